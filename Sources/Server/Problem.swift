import Foundation
import Hummingbird
import IMNCore
import NIOCore

/// An RFC 9457 problem (`application/problem+json`), the shape of every error the API returns.
struct Problem: Error {
    var status: HTTPResponse.Status
    var title: String
    var detail: String
    var errors: [SchemaViolation] = []
    /// Sent along (`Retry-After`, `Allow`, `WWW-Authenticate`).
    var headers = HTTPFields()

    var response: Response {
        var body: [String: JSONValue] = [
            "type": "about:blank", "title": .string(title), "status": .number(Double(status.code)), "detail": .string(detail),
        ]
        if !errors.isEmpty {
            body["errors"] = .array(
                errors.map {
                    ["pointer": .string($0.pointer.isEmpty ? "/" : $0.pointer), "keyword": .string($0.keyword), "detail": .string($0.message)]
                })
        }
        var headers = headers
        headers[.contentType] = "application/problem+json"
        return Response(status: status, headers: headers, body: ResponseBody(byteBuffer: ByteBuffer(bytes: JSONValue.object(body).bytes)))
    }

    static func json(_ value: JSONValue, status: HTTPResponse.Status = .ok) -> Response {
        var headers = HTTPFields()
        headers[.contentType] = "application/json"
        return Response(status: status, headers: headers, body: ResponseBody(byteBuffer: ByteBuffer(bytes: value.bytes)))
    }
}
