#if canImport(Glibc)
    import Glibc
#endif

/// How many event loops the edge runs.
public enum EdgeWorkers {
    /// The configured count, or one per CPU in this process's affinity mask (so `taskset` and container CPU sets
    /// are honoured, as nginx's `worker_processes auto` does).
    public static func count(configured: Int?) -> Int {
        if let configured { return configured }
        return max(1, availableCPUs())
    }

    /// CPUs this process may run on: the `Cpus_allowed` mask of `/proc/self/status` where there is one.
    public static func availableCPUs() -> Int {
        if let status = readFile("/proc/self/status") {
            for line in status.split(separator: "\n") where line.hasPrefix("Cpus_allowed:") {
                let mask = line.dropFirst("Cpus_allowed:".count)
                let count = mask.reduce(0) { total, character in
                    total + (character.hexDigitValue.map { $0.nonzeroBitCount } ?? 0)
                }
                if count > 0 { return count }
            }
        }
        return Int(sysconf(Int32(_SC_NPROCESSORS_ONLN)))
    }

    private static func readFile(_ path: String) -> String? {
        guard let file = fopen(path, "r") else { return nil }
        defer { fclose(file) }
        var bytes: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 4096)
        while true {
            let count = fread(&chunk, 1, chunk.count, file)
            if count <= 0 { break }
            bytes += chunk[0..<count]
        }
        return String(decoding: bytes, as: UTF8.self)
    }
}
