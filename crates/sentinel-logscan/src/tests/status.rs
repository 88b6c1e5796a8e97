use super::check;
use crate::http_status;

#[test]
#[rustfmt::skip] // one row per line: the tables are read, not diffed
fn http_statuses() {
    check(
        &[
            ("combined", r#"10.0.0.1 - - [01/Jan/2024:12:00:00 +0000] "GET /x HTTP/1.1" 503 123 "-" "curl/8""#, Some(503)),
            ("common, no size", r#"10.0.0.1 - - [01/Jan/2024:12:00:00 +0000] "GET /x HTTP/1.0" 200 -"#, Some(200)),
            ("HTTP/2.0 request line", r#"10.0.0.1 - - [01/Jan/2024:12:00:00 +0000] "GET /x HTTP/2.0" 301 0"#, Some(301)),
            ("uvicorn", r#"INFO:     10.0.0.1:1234 - "GET / HTTP/1.1" 500 Internal Server Error"#, Some(500)),
            ("werkzeug", r#"10.0.0.1 - - [01/Jan/2024 12:00:00] "GET /nope HTTP/1.1" 404 -"#, Some(404)),
            ("gin", r#"[GIN] 2024/01/01 - 12:00:00 | 502 |    30.1ms |      10.0.0.1 | POST     "/api""#, Some(502)),
            ("fiber", "12:00:00 | 201 |     4ms |      10.0.0.1 | POST    | /api/orders | -", Some(201)),
            ("morgan dev", "GET /x 500 12.3 ms - 21", Some(500)),
            ("morgan dev with colours", "\x1b[0mDELETE /x \x1b[33m409\x1b[0m 2.1 ms - 9\x1b[0m", Some(409)),
            ("Go middleware", "GET /items 204 1.2ms", Some(204)),
            ("chi", r#""GET http://10.0.1.5:8080/api HTTP/1.1" from 10.0.0.1:5555 - 500 2B in 31.2µs"#, Some(500)),
            ("logfmt", "level=info msg=request method=GET path=/api status=502 duration=3ms", Some(502)),
            ("JSON status with request line", r#"{"request":"GET /x HTTP/1.1","status":"503"}"#, Some(503)),
            ("JSON status with method", r#"{"method":"GET","path":"/x","status":500}"#, Some(500)),
            ("JSON status_code as string", r#"{"status_code":"404"}"#, Some(404)),
            ("JSON statusCode", r#"{"statusCode":201,"msg":"request completed"}"#, Some(201)),
            ("JSON response_status", r#"{"response_status":302}"#, Some(302)),
            ("JSON flat http.status_code", r#"{"http.status_code":502}"#, Some(502)),
            ("JSON nested http.status_code", r#"{"http":{"status_code":504,"method":"GET"}}"#, Some(504)),
            ("ECS http.response.status_code", r#"{"http":{"response":{"status_code":503}}}"#, Some(503)),
            ("pino-http res.statusCode", r#"{"req":{"method":"GET","url":"/x"},"res":{"statusCode":200}}"#, Some(200)),
            ("Google Cloud httpRequest.status", r#"{"httpRequest":{"requestMethod":"GET","status":503}}"#, Some(503)),
            ("Caddy", r#"{"level":"error","logger":"http.log.access","request":{"method":"GET","uri":"/x"},"status":502}"#, Some(502)),
            ("Traefik", r#"{"RequestMethod":"GET","RequestPath":"/x","DownstreamStatus":503}"#, Some(503)),
            ("Serilog request logging", "HTTP POST /api/orders responded 500 in 12.3 ms", Some(500)),
            ("FireLens envelope", r#"{"source":"stdout","log":"10.0.0.1 - - [01/Jan/2024:12:00:00 +0000] \"GET /x HTTP/1.1\" 502 0"}"#, Some(502)),
            // Not access-log lines, or not a status.
            ("retry delay", "retrying in 500 ms", None),
            ("duration", "took 200 ms", None),
            ("prose with a 404", "user 404 not found", None),
            ("prose with HTTP", "HTTP 503 from upstream", None),
            ("bare JSON status is not HTTP", r#"{"status":500,"msg":"job failed"}"#, None),
            ("JSON status word", r#"{"status":"ok"}"#, None),
            ("JSON status out of range", r#"{"status_code":700}"#, None),
            ("access line, status out of range", r#"10.0.0.1 - - [01/Jan/2024:12:00:00 +0000] "GET / HTTP/1.1" 600 0"#, None),
            ("access line, four digits", r#"10.0.0.1 - - [01/Jan/2024:12:00:00 +0000] "GET / HTTP/1.1" 2000 0"#, None),
            ("logfmt status without a method", "level=error msg=\"job failed\" status=503", None),
            ("empty line", "", None),
        ],
        http_status,
    );
}
