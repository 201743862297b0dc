import FoundationEssentials
import Glibc

/// Runs a program with `input` on stdin, in a process group of its own so that a kill reaches
/// everything it started. Blocking: call on a probe thread.
enum ChildProcess {
    struct Outcome {
        var status: Int32
        var signal: Int32?
        var output: [UInt8]
        var errors: [UInt8]
    }

    /// Starts the program; returns its pid and a function that feeds input, collects output and
    /// waits for it to end.
    static func spawn(_ command: [String], input: [UInt8]) throws -> (pid: pid_t, finish: @Sendable () -> Outcome) {
        var inPipe: [Int32] = [0, 0]
        var outPipe: [Int32] = [0, 0]
        var errPipe: [Int32] = [0, 0]
        guard pipe(&inPipe) == 0, pipe(&outPipe) == 0, pipe(&errPipe) == 0 else {
            throw ModuleError("cannot create pipes: \(String(cString: strerror(errno)))")
        }
        // Our ends must not leak into other children.
        for fd in inPipe + outPipe + errPipe { _ = fcntl(fd, F_SETFD, FD_CLOEXEC) }
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_adddup2(&actions, inPipe[0], 0)
        posix_spawn_file_actions_adddup2(&actions, outPipe[1], 1)
        posix_spawn_file_actions_adddup2(&actions, errPipe[1], 2)
        var attributes = posix_spawnattr_t()
        posix_spawnattr_init(&attributes)
        defer { posix_spawnattr_destroy(&attributes) }
        posix_spawnattr_setflags(&attributes, Int16(POSIX_SPAWN_SETPGROUP))
        posix_spawnattr_setpgroup(&attributes, 0)
        let program = command[0].hasPrefix("/") ? command : ["/usr/bin/env"] + command
        var arguments: [UnsafeMutablePointer<CChar>?] = program.map { strdup($0) } + [nil]
        defer { arguments.forEach { free($0) } }
        var pid: pid_t = 0
        let spawned = posix_spawn(&pid, program[0], &actions, &attributes, &arguments, environ)
        close(inPipe[0])
        close(outPipe[1])
        close(errPipe[1])
        guard spawned == 0 else {
            [inPipe[1], outPipe[0], errPipe[0]].forEach { close($0) }
            throw ModuleError("cannot start \(command.joined(separator: " ")): \(String(cString: strerror(spawned)))")
        }
        let (stdin, stdout, stderr) = (inPipe[1], outPipe[0], errPipe[0])
        let child = pid
        let finish: @Sendable () -> Outcome = {
            // A child that does not read its input must not block us: the write end is non-blocking.
            _ = fcntl(stdin, F_SETFL, O_NONBLOCK)
            _ = input.withUnsafeBytes { write(stdin, $0.baseAddress, $0.count) }
            close(stdin)
            var output: [UInt8] = []
            var errors: [UInt8] = []
            var open = [stdout, stderr]
            var buffer = [UInt8](repeating: 0, count: 65536)
            while !open.isEmpty {
                var descriptors = open.map { pollfd(fd: $0, events: Int16(POLLIN), revents: 0) }
                guard poll(&descriptors, nfds_t(descriptors.count), -1) > 0 else { break }
                for descriptor in descriptors where descriptor.revents != 0 {
                    let count = buffer.withUnsafeMutableBytes { read(descriptor.fd, $0.baseAddress, $0.count) }
                    if count > 0 {
                        if descriptor.fd == stdout { output += buffer[0..<count] } else if errors.count < 65536 { errors += buffer[0..<count] }
                    } else {
                        close(descriptor.fd)
                        open.removeAll { $0 == descriptor.fd }
                    }
                }
            }
            var status: Int32 = 0
            while waitpid(child, &status, 0) == -1 && errno == EINTR {}
            let signalled = status & 0x7F
            return Outcome(status: (status >> 8) & 0xFF, signal: signalled != 0 ? signalled : nil, output: output, errors: errors)
        }
        return (pid, finish)
    }
}
