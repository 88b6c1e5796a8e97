use super::check;
use crate::is_health_check;

#[test]
#[rustfmt::skip] // one row per line: the tables are read, not diffed
fn health_checks() {
    check(
        &[
            // Combined and common log (nginx, Apache, gunicorn).
            ("combined, ELB agent", r#"10.0.1.23 - - [01/Jan/2024:12:00:00 +0000] "GET /health HTTP/1.1" 200 2 "-" "ELB-HealthChecker/2.0""#, true),
            ("combined, health path, other agent", r#"10.0.1.23 - - [01/Jan/2024:12:00:00 +0000] "GET /healthz HTTP/1.1" 200 2 "-" "curl/8.4.0""#, true),
            ("common log, HEAD", r#"10.0.1.23 - - [01/Jan/2024:12:00:00 +0000] "HEAD /ping HTTP/1.0" 200 -"#, true),
            ("query string", r#"10.0.1.23 - - [01/Jan/2024:12:00:00 +0000] "GET /health?full=1 HTTP/1.1" 200 2"#, true),
            ("sub-path", r#"10.0.1.23 - - [01/Jan/2024:12:00:00 +0000] "GET /healthz/ready HTTP/1.1" 200 2"#, true),
            ("gunicorn, kube-probe", r#"10.0.0.1 - - [01/Jan/2024:12:00:00 +0000] "GET /health-check HTTP/1.1" 200 15 "-" "kube-probe/1.29""#, true),
            ("agent alone, root path", r#"10.0.1.23 - - [01/Jan/2024:12:00:00 +0000] "GET / HTTP/1.1" 200 612 "-" "ELB-HealthChecker/2.0""#, true),
            ("GoogleHC", r#"10.0.1.23 - - [01/Jan/2024:12:00:00 +0000] "GET /ready HTTP/1.1" 200 2 "-" "GoogleHC/1.0""#, true),
            ("Consul", r#"10.0.1.23 - - [01/Jan/2024:12:00:00 +0000] "GET /v1/ok HTTP/1.1" 200 2 "-" "Consul Health Check""#, true),
            ("failing check is still a check", r#"10.0.1.23 - - [01/Jan/2024:12:00:00 +0000] "GET /health HTTP/1.1" 503 0 "-" "ELB-HealthChecker/2.0""#, true),
            // JSON access logs.
            ("nginx JSON with request line", r#"{"remote_addr":"10.0.0.1","request":"GET /health HTTP/1.1","status":"200","http_user_agent":"curl/8"}"#, true),
            ("JSON method + path", r#"{"method":"GET","path":"/readyz","status":200}"#, true),
            ("JSON request_method + request_uri", r#"{"request_method":"HEAD","request_uri":"/status","status":200}"#, true),
            ("API Gateway style httpMethod + url", r#"{"httpMethod":"GET","url":"/live","statusCode":200}"#, true),
            ("pino-http nested req", r#"{"level":30,"req":{"method":"GET","url":"/health"},"res":{"statusCode":200},"msg":"request completed"}"#, true),
            ("JSON formatter around a gunicorn line", r#"{"levelname":"INFO","message":"10.0.0.1 - - [01/Jan/2024:12:00:00 +0000] \"GET /health HTTP/1.1\" 200 2"}"#, true),
            ("FireLens envelope", r#"{"source":"stdout","log":"10.0.0.1 - - [01/Jan/2024:12:00:00 +0000] \"GET /ping HTTP/1.1\" 200 4"}"#, true),
            ("Caddy", r#"{"level":"info","logger":"http.log.access","msg":"handled request","request":{"method":"GET","uri":"/healthz"},"status":200}"#, true),
            ("Traefik", r#"{"RequestMethod":"HEAD","RequestPath":"/ping","DownstreamStatus":200}"#, true),
            ("Envoy / ECS Service Connect", r#"[2024-01-01T12:00:00.000Z] "GET /health HTTP/1.1" 200 - 0 2 1 1 "-" "ELB-HealthChecker/2.0" "8f0c" "app" "127.0.0.1:8080""#, true),
            // .NET.
            ("Serilog request logging", "HTTP GET /health responded 200 in 1.2345 ms", true),
            // Go.
            ("gin", r#"[GIN] 2024/01/01 - 12:00:00 | 200 |      1.2ms |      10.0.0.1 | GET      "/healthz""#, true),
            ("fiber", "12:00:00 | 200 |     1ms |      10.0.0.1 | GET     | /livez   | -", true),
            ("plain Go middleware", "GET /healthz 200 1.2ms", true),
            ("chi absolute URL", r#""GET http://10.0.1.5:8080/healthz HTTP/1.1" from 10.0.0.1:5555 - 200 2B in 31.2µs"#, true),
            ("slog logfmt", "time=2024-01-01T00:00:00Z level=INFO msg=request method=GET path=/healthz status=200", true),
            // Node.
            ("morgan combined", r#"::ffff:10.0.0.1 - - [01/Jan/2024:12:00:00 +0000] "GET /health HTTP/1.1" 200 2 "-" "ELB-HealthChecker/2.0""#, true),
            ("morgan dev", "GET /health 200 1.234 ms - 2", true),
            ("morgan dev with colours", "\x1b[0mGET /health \x1b[32m200\x1b[0m 1.234 ms - 2\x1b[0m", true),
            // Python.
            ("uvicorn", r#"INFO:     10.0.0.1:1234 - "GET /health HTTP/1.1" 200 OK"#, true),
            ("werkzeug", r#"10.0.0.1 - - [01/Jan/2024 12:00:00] "GET /ping HTTP/1.1" 200 -"#, true),
            // Not health checks.
            ("path prefix only", r#"10.0.0.1 - - [01/Jan/2024:12:00:00 +0000] "GET /healthy-cats HTTP/1.1" 200 2"#, false),
            ("health not at the root", r#"10.0.0.1 - - [01/Jan/2024:12:00:00 +0000] "GET /api/health/report HTTP/1.1" 200 2"#, false),
            ("status prefix only", r#"10.0.0.1 - - [01/Jan/2024:12:00:00 +0000] "GET /statuses HTTP/1.1" 200 2"#, false),
            ("POST is not a check", r#"10.0.0.1 - - [01/Jan/2024:12:00:00 +0000] "POST /health HTTP/1.1" 200 2"#, false),
            ("JSON POST is not a check", r#"{"method":"POST","path":"/health","status":200}"#, false),
            ("application prose", "checking health of downstream services", false),
            ("outbound call, no access-log shape", "calling GET /health on payments", false),
            ("JSON application line", r#"{"level":"info","msg":"health: ok"}"#, false),
            ("checker name without a version", "kube-probe failed: connection refused", false),
            ("real traffic", r#"10.0.0.1 - - [01/Jan/2024:12:00:00 +0000] "GET /api/orders HTTP/1.1" 200 512 "-" "Mozilla/5.0""#, false),
        ],
        is_health_check,
    );
}
