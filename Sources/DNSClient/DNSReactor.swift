import CLDNS
import Glibc
import Synchronization

/// Waits for many UDP sockets at once on one thread (epoll), so that a query in flight holds
/// no thread: the asking task sends from its own thread, suspends, and is resumed when the
/// answer is readable or its deadline passes. The answer is then read on the task's thread,
/// with the kernel's receive stamp, as before.
final class DNSReactor: Sendable {
    enum Wake: Sendable {
        case readable, timeout, cancelled
    }

    private struct Waiter {
        var continuation: CheckedContinuation<Wake, Never>
        var deadline: ContinuousClock.Instant
    }

    static let shared = DNSReactor()

    private let epoll: Int32
    private let waiters = Mutex<[Int32: Waiter]>([:])

    private init() {
        epoll = epoll_create1(Int32(EPOLL_CLOEXEC))
        let thread = Thread { [unowned self] in self.loop() }
        thread.start()
    }

    /// Suspends until `fd` is readable, `deadline` passes, or the task is cancelled.
    func wait(_ fd: Int32, until deadline: ContinuousClock.Instant) async -> Wake {
        await withTaskCancellationHandler {
            await withCheckedContinuation { (continuation: CheckedContinuation<Wake, Never>) in
                waiters.withLock { $0[fd] = Waiter(continuation: continuation, deadline: deadline) }
                var event = epoll_event()
                event.events = EPOLLIN.rawValue | EPOLLONESHOT.rawValue
                event.data.fd = fd
                if epoll_ctl(epoll, EPOLL_CTL_ADD, fd, &event) != 0 && errno == EEXIST {
                    _ = epoll_ctl(epoll, EPOLL_CTL_MOD, fd, &event)
                }
                // Cancelled before the waiter was there for the handler to find.
                if Task.isCancelled { resume(fd, .cancelled) }
            }
        } onCancel: {
            resume(fd, .cancelled)
        }
    }

    /// Forgets `fd` before it is closed.
    func remove(_ fd: Int32) {
        _ = epoll_ctl(epoll, EPOLL_CTL_DEL, fd, nil)
    }

    private func resume(_ fd: Int32, _ wake: Wake) {
        let waiter = waiters.withLock { $0.removeValue(forKey: fd) }
        waiter?.continuation.resume(returning: wake)
    }

    private func loop() {
        var events = [epoll_event](repeating: epoll_event(), count: 64)
        while true {
            let nearest = waiters.withLock { $0.values.map(\.deadline).min() }
            let left = nearest.map { $0 - ContinuousClock.now } ?? .milliseconds(50)
            let milliseconds = Int32(max(0, min(50, left.components.seconds * 1000 + left.components.attoseconds / 1_000_000_000_000_000 + 1)))
            let count = events.withUnsafeMutableBufferPointer { epoll_wait(epoll, $0.baseAddress, Int32($0.count), milliseconds) }
            for index in 0..<max(0, Int(count)) { resume(events[index].data.fd, .readable) }
            let now = ContinuousClock.now
            let expired = waiters.withLock { waiters in waiters.filter { $0.value.deadline <= now }.map(\.key) }
            for fd in expired { resume(fd, .timeout) }
        }
    }
}

/// A thread of our own (the reactor's), without Foundation.
private final class Thread: @unchecked Sendable {
    private let body: () -> Void
    init(_ body: @escaping () -> Void) { self.body = body }

    func start() {
        var thread = pthread_t()
        let context = Unmanaged.passRetained(self).toOpaque()
        pthread_create(
            &thread, nil,
            { context in
                guard let context else { return nil }
                let thread = Unmanaged<Thread>.fromOpaque(context).takeRetainedValue()
                thread.body()
                return nil
            }, context)
        pthread_detach(thread)
    }
}
