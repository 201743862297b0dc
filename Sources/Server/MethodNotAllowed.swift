import Hummingbird
import IMNCore

/// `405 Method Not Allowed` with an `Allow` header for a method the API does not offer on a path it
/// serves (a TRACE on `/agents`, a PUT on a result), instead of the router's 404. The paths and
/// methods come from the OpenAPI document, which a test keeps equal to the routes. HEAD passes.
struct MethodNotAllowedMiddleware<Context: RequestContext>: RouterMiddleware {
    private let templates: [(segments: [Substring], methods: [String])]

    init(paths: [String: JSONValue] = OpenAPIDocument.paths) {
        templates = paths.map { path, operations in
            let methods: [String] = operations.objectValue.map { Array($0.keys) } ?? []
            return (path.split(separator: "/"), methods.map { $0.uppercased() }.sorted())
        }
    }

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        do {
            return try await next(request, context)
        } catch let error as HTTPError where error.status == .notFound {
            // Only what the router did not find: matched routes never pay for the template walk.
            let method = request.method.rawValue
            guard method != "HEAD", let allowed = allowedMethods(request.uri.path), !allowed.contains(method) else { throw error }
            var headers = HTTPFields()
            headers[.allow] = allowed.joined(separator: ", ")
            return Problem(
                status: .methodNotAllowed, title: "Method not allowed", detail: "\(request.uri.path) allows \(allowed.joined(separator: ", "))",
                headers: headers
            ).response
        }
    }

    /// The methods of the documented path `path` matches; nil when it matches none.
    func allowedMethods(_ path: String) -> [String]? {
        let segments = path.split(separator: "/")
        var methods: Set<String> = []
        var matched = false
        for template in templates where template.segments.count == segments.count {
            let fits = zip(template.segments, segments).allSatisfy { pattern, segment in pattern.hasPrefix("{") || pattern == segment }
            if fits {
                matched = true
                methods.formUnion(template.methods)
            }
        }
        return matched ? methods.sorted() : nil
    }
}
