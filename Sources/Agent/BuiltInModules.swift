/// The modules every agent has (names kept from the earlier prototype).
public enum BuiltInModules {
    public static func all() -> [any MeasurementModule] {
        [EchoModule(), FaultyModule(), PingModule(), TCPingModule(), HeartbeatModule(), HTTPModule(), DNSModule(), TracerouteModule(), MTRModule()]
    }
}
