import NIOPosix

/// Threads for probes that block in the kernel (connect with poll, ICMP receive): never the
/// event loops, which also run Swift tasks in `imn`.
enum ProbeThreads {
    static let pool: NIOThreadPool = {
        let pool = NIOThreadPool(numberOfThreads: 8)
        pool.start()
        return pool
    }()
}
