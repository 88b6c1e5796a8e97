use super::check;
use crate::{classify, Category, Category::*};

#[test]
fn category_names_and_order() {
    let names: Vec<&str> = Category::ALL.iter().map(|c| c.as_str()).collect();
    assert_eq!(
        names,
        [
            "panic",
            "oom",
            "fatal",
            "python_traceback",
            "timeout",
            "connection_error",
            "auth_error",
            "http_5xx",
            "exception",
            "structured_error",
            "error"
        ]
    );
    // ALL is in precedence order, and precedence is the derived Ord.
    let mut sorted = Category::ALL;
    sorted.sort();
    assert_eq!(sorted, Category::ALL);
    for c in Category::ALL {
        assert_eq!(Category::from_name(c.as_str()), Some(c));
        assert_eq!(c.to_string(), c.as_str());
    }
    assert_eq!(Category::from_name("restart"), None);
}

#[test]
fn category_serialises_as_its_name() {
    let counts: std::collections::BTreeMap<Category, usize> =
        [(Oom, 3), (Http5xx, 1)].into_iter().collect();
    assert_eq!(
        serde_json::to_string(&counts).ok().as_deref(),
        Some(r#"{"oom":3,"http_5xx":1}"#)
    );
}

#[test]
#[rustfmt::skip] // one row per line: the tables are read, not diffed
fn panic() {
    check(
        &[
            ("go runtime panic", "panic: runtime error: invalid memory address or nil pointer dereference", Some(Panic)),
            ("go crash dump: the running goroutine", "goroutine 1 [running]:", Some(Panic)),
            ("go crash dump: other goroutines are not another panic", "goroutine 17 [chan receive]:", None),
            ("go net/http recovered panic", "2024/01/01 12:00:00 http: panic serving 10.0.0.5:41234: runtime error: index out of range [3] with length 3", Some(Panic)),
            ("rust panic, 1.73+ format", "thread 'main' panicked at src/main.rs:10:5:", Some(Panic)),
            ("rust panic, older format in a tokio worker", "thread 'tokio-runtime-worker' panicked at 'called `Option::unwrap()` on a `None` value', src/lib.rs:4:9", Some(Panic)),
            ("postgres PANIC severity", "2024-01-01 12:00:00 UTC [1] PANIC:  could not write to file \"pg_wal/xlogtemp.1\": No space left on device", Some(Panic)),
            ("prose: no panic here", "no panic here, all good", None),
            ("prose: panicked", "the user panicked and clicked twice", None),
        ],
        classify,
    );
}

#[test]
#[rustfmt::skip] // one row per line: the tables are read, not diffed
fn oom() {
    check(
        &[
            ("kernel OOM killer", "Out of memory: Killed process 1234 (node) total-vm:1234kB", Some(Oom)),
            ("container exit reason", "container app exited: OOMKilled", Some(Oom)),
            ("oom as a word", "worker 3 killed by OOM", Some(Oom)),
            ("oom-killer invoked", "node invoked oom-killer: gfp_mask=0x100cca", Some(Oom)),
            ("java heap, before exception", "Exception in thread \"main\" java.lang.OutOfMemoryError: Java heap space", Some(Oom)),
            (".NET, before exception", "Unhandled exception. System.OutOfMemoryException: Insufficient memory", Some(Oom)),
            ("node heap, before fatal", "FATAL ERROR: Reached heap limit Allocation failed - JavaScript heap out of memory", Some(Oom)),
            ("go runtime, before fatal", "fatal error: runtime: out of memory", Some(Oom)),
            ("ENOMEM", "OSError: [Errno 12] Cannot allocate memory", Some(Oom)),
            ("python MemoryError", "MemoryError", Some(Oom)),
            ("memory limit exceeded", "Runtime exited: memory limit exceeded", Some(Oom)),
            ("rust allocation failure", "memory allocation of 1073741824 bytes failed", Some(Oom)),
            ("c++ bad_alloc", "terminate called after throwing an instance of 'std::bad_alloc'", Some(Oom)),
            ("room is not oom", "booked the meeting room", None),
            ("bloom is not oom", "bloom filter rebuilt with 10000 entries", None),
            ("zoom is not oom", "zoom level set to 3", None),
            ("Zoom is not oom either", "Zoom meeting started", None),
            ("oom_score_adj is a setting", "oom_score_adj set to -1000", None),
        ],
        classify,
    );
}

#[test]
#[rustfmt::skip] // one row per line: the tables are read, not diffed
fn fatal() {
    check(
        &[
            ("postgres FATAL", "FATAL: the database system is starting up", Some(Fatal)),
            ("go fatal error", "fatal error: all goroutines are asleep - deadlock!", Some(Fatal)),
            ("bracketed level", "2024-01-01 12:00:00 [FATAL] config file missing", Some(Fatal)),
            ("logfmt fatal level", "level=fatal msg=\"cannot bind port 8080\"", Some(Fatal)),
            ("JVM crash banner", "# A fatal error has been detected by the Java Runtime Environment:", Some(Fatal)),
            ("fatal before auth in precedence", "FATAL:  password authentication failed for user \"app\"", Some(Fatal)),
            ("segfault", "Segmentation fault (core dumped)", Some(Fatal)),
            ("go signal crash", "[signal SIGSEGV: segmentation violation code=0x1 addr=0x0 pc=0x4a1b2c]", Some(Fatal)),
            ("non-fatal is not fatal", "non-fatal: cache miss, continuing", None),
            ("nonfatal is not fatal", "nonfatal issue in plugin loader", None),
            ("non fatal, spaced", "non fatal issue skipped", None),
            ("not fatal", "this is not fatal, retrying", None),
            ("zero counter", "fatal=0 warnings=3", None),
            ("non-fatal error still counts as an error", "non-fatal error while reading cache, continuing", Some(Error)),
        ],
        classify,
    );
}

#[test]
#[rustfmt::skip] // one row per line: the tables are read, not diffed
fn python_traceback() {
    check(
        &[
            ("traceback header", "Traceback (most recent call last):", Some(PythonTraceback)),
            ("traceback after a logging prefix", "ERROR:root:Traceback (most recent call last):", Some(PythonTraceback)),
            ("a frame line is not another traceback", "  File \"/app/main.py\", line 3, in <module>", None),
        ],
        classify,
    );
}

#[test]
#[rustfmt::skip] // one row per line: the tables are read, not diffed
fn timeout() {
    check(
        &[
            ("nginx upstream timed out", "2024/01/01 12:00:00 [error] 29#29: *1 upstream timed out (110: Connection timed out) while reading response header from upstream", Some(Timeout)),
            ("go context deadline", "rpc failed: context deadline exceeded", Some(Timeout)),
            ("grpc DeadlineExceeded", "rpc error: code = DeadlineExceeded desc = stream terminated", Some(Timeout)),
            ("node ETIMEDOUT", "Error: connect ETIMEDOUT 10.0.0.5:5432", Some(Timeout)),
            ("java socket timeout, before exception", "java.net.SocketTimeoutException: Read timed out", Some(Timeout)),
            ("python TimeoutError", "asyncio.exceptions.TimeoutError", Some(Timeout)),
            ("timeout as a word", "Request timeout after 30000ms", Some(Timeout)),
            ("axios timeout", "timeout of 5000ms exceeded", Some(Timeout)),
            ("504 in an application message", "upstream returned 504 Gateway Time-out", Some(Timeout)),
            ("504 in an access line is http_5xx", "10.0.0.1 - - [01/Jan/2024:12:00:00 +0000] \"GET /api HTTP/1.1\" 504 167 \"-\" \"curl/8.0\"", Some(Http5xx)),
            ("timeout=30 is a setting", "starting server with timeout=30 retries=3", None),
            ("timeout: 30s is a setting", "http.timeout: 30s", None),
            ("JSON setting inside text", "loaded config {\"timeout\": 5000, \"retries\": 3}", None),
            ("plural counter", "timeouts=0", None),
            ("identifier", "read_timeout_ms set", None),
        ],
        classify,
    );
}

#[test]
#[rustfmt::skip] // one row per line: the tables are read, not diffed
fn connection_error() {
    check(
        &[
            ("node ECONNREFUSED", "Error: connect ECONNREFUSED 127.0.0.1:5432", Some(ConnectionError)),
            ("go connection refused", "dial tcp 10.0.1.5:6379: connect: connection refused", Some(ConnectionError)),
            ("connection reset", "read tcp 10.0.0.1:443: read: connection reset by peer", Some(ConnectionError)),
            ("broken pipe", "write tcp 10.0.0.1:8080->10.0.0.9:5555: write: broken pipe", Some(ConnectionError)),
            ("no route to host", "could not connect to server: No route to host", Some(ConnectionError)),
            ("node DNS", "getaddrinfo ENOTFOUND db.internal", Some(ConnectionError)),
            ("go DNS", "dial tcp: lookup db.internal on 10.0.0.2:53: no such host", Some(ConnectionError)),
            ("glibc DNS", "socket.gaierror: [Errno -2] Name or service not known", Some(ConnectionError)),
            ("failed to connect", "Failed to connect to redis at 10.0.0.7:6379", Some(ConnectionError)),
            ("before exception in precedence", "psycopg2.OperationalError: could not connect to server: Connection refused", Some(ConnectionError)),
            ("EHOSTUNREACH", "Error: connect EHOSTUNREACH 10.0.3.3:443", Some(ConnectionError)),
            ("quoted request in an application message is not an access line", "proxy \"GET /api HTTP/1.1\" failed: connection refused", Some(ConnectionError)),
            ("reconnected is not an error", "reconnected to broker after 2 attempts", None),
        ],
        classify,
    );
}

#[test]
#[rustfmt::skip] // one row per line: the tables are read, not diffed
fn auth_error() {
    check(
        &[
            ("AWS AccessDeniedException, before exception", "AccessDeniedException: User: arn:aws:sts::123456789012:assumed-role/app/x is not authorized to perform: dynamodb:PutItem", Some(AuthError)),
            ("AWS CLI AccessDenied, before error", "An error occurred (AccessDenied) when calling the GetObject operation: Access Denied", Some(AuthError)),
            ("unauthorized word", "upstream said Unauthorized: invalid token", Some(AuthError)),
            ("expired AWS credentials", "ExpiredTokenException: The security token included in the request is expired", Some(AuthError)),
            ("permission denied", "open /data/cache: permission denied", Some(AuthError)),
            ("forbidden word", "request forbidden by policy", Some(AuthError)),
            ("authentication failed", "LDAP authentication failed for user bob", Some(AuthError)),
            ("a bare 401 is not an auth error", "login attempt returned 401", None),
            ("403 access line: status text is not the word", "INFO:     10.0.0.1:5000 - \"GET /admin HTTP/1.1\" 403 Forbidden", None),
            ("403 combined access line", "10.0.0.1 - - [01/Jan/2024:12:00:00 +0000] \"GET /admin HTTP/1.1\" 403 153 \"-\" \"Mozilla/5.0\"", None),
        ],
        classify,
    );
}

#[test]
#[rustfmt::skip] // one row per line: the tables are read, not diffed
fn http_5xx() {
    check(
        &[
            ("combined 503", "10.0.0.1 - - [01/Jan/2024:12:00:00 +0000] \"POST /api/orders HTTP/1.1\" 503 0 \"-\" \"okhttp/4\"", Some(Http5xx)),
            ("uvicorn 500", "INFO:     10.0.0.1:1234 - \"GET / HTTP/1.1\" 500 Internal Server Error", Some(Http5xx)),
            ("gin 502", "[GIN] 2024/01/01 - 12:00:00 | 502 |    30.1ms |      10.0.0.1 | GET      \"/api/orders\"", Some(Http5xx)),
            ("morgan dev 500", "GET /api/orders 500 12.345 ms - 21", Some(Http5xx)),
            ("chi 500", "\"GET http://10.0.1.5:8080/api HTTP/1.1\" from 10.0.0.1:5555 - 500 2B in 31.2µs", Some(Http5xx)),
            ("JSON access log at info level", "{\"level\":\"info\",\"method\":\"GET\",\"path\":\"/api\",\"status\":500}", Some(Http5xx)),
            ("pino-http", "{\"level\":50,\"req\":{\"method\":\"GET\",\"url\":\"/api\"},\"res\":{\"statusCode\":503},\"msg\":\"request errored\"}", Some(Http5xx)),
            ("logfmt access line", "level=info msg=request method=GET path=/api status=502", Some(Http5xx)),
            ("client words in an access line do not count", "10.0.0.9 - - [01/Jan/2024:12:00:00 +0000] \"GET /fatal-error/timeout?q=panic: HTTP/1.1\" 200 12 \"-\" \"sqlmap/1.7 (OutOfMemoryError)\"", None),
            ("404 is the client's", "10.0.0.1 - - [01/Jan/2024:12:00:00 +0000] \"GET /missing HTTP/1.1\" 404 0 \"-\" \"curl/8\"", None),
        ],
        classify,
    );
}

#[test]
#[rustfmt::skip] // one row per line: the tables are read, not diffed
fn exception() {
    check(
        &[
            ("java class name", "java.lang.NullPointerException: Cannot invoke \"String.length()\"", Some(Exception)),
            ("java cause", "Caused by: java.sql.SQLException: Connection is closed", Some(Exception)),
            ("java uncaught header", "Exception in thread \"main\" java.lang.IllegalStateException", Some(Exception)),
            ("python error class at line start", "ValueError: invalid literal for int() with base 10: 'abc'", Some(Exception)),
            ("python dotted error class", "sqlalchemy.exc.IntegrityError: (psycopg2.errors.UniqueViolation) duplicate key", Some(Exception)),
            ("python bare Exception", "Exception: boom", Some(Exception)),
            ("javascript TypeError", "TypeError: Cannot read properties of undefined (reading 'id')", Some(Exception)),
            ("javascript uncaught", "Uncaught TypeError: x is not a function", Some(Exception)),
            (".NET unhandled", "Unhandled exception. System.InvalidOperationException: Sequence contains no elements", Some(Exception)),
            ("node unhandled rejection", "[UnhandledPromiseRejection: This promise was rejected with reason \"boom\"]", Some(Exception)),
            ("identifier prefix is not an exception", "ExceptionHandler registered for /api", None),
            ("lower-case prose", "no exceptions thrown during warmup", None),
            ("plural class-like word", "Registered 3 MapperExceptions", None),
        ],
        classify,
    );
}

#[test]
#[rustfmt::skip] // one row per line: the tables are read, not diffed
fn structured_error() {
    check(
        &[
            ("level error", r#"{"level":"error","msg":"payment failed","order":42}"#, Some(StructuredError)),
            ("severity ERROR", r#"{"severity":"ERROR","message":"job failed"}"#, Some(StructuredError)),
            ("pino 50", r#"{"level":50,"time":1700000000,"msg":"request failed"}"#, Some(StructuredError)),
            ("bunyan 60", r#"{"level":60,"msg":"shutting down"}"#, Some(StructuredError)),
            ("log15 crit", r#"{"lvl":"crit","msg":"disk full"}"#, Some(StructuredError)),
            ("ECS flat log.level", r#"{"log.level":"error","message":"index failed"}"#, Some(StructuredError)),
            ("ECS nested log.level", r#"{"log":{"level":"error"},"message":"index failed"}"#, Some(StructuredError)),
            ("python levelname", r#"{"levelname":"CRITICAL","message":"worker lost"}"#, Some(StructuredError)),
            ("error string without a level", r#"{"msg":"charge declined","error":"card_declined"}"#, Some(StructuredError)),
            ("error object without a level", r#"{"msg":"sync failed","err":{"type":"Error","message":"boom"}}"#, Some(StructuredError)),
            ("the word error adds nothing to an error level", r#"{"level":"error","msg":"error"}"#, Some(StructuredError)),
            ("message names a cause: connection", r#"{"level":"error","msg":"dial tcp 10.0.0.5:5432: connect: connection refused"}"#, Some(ConnectionError)),
            ("error field names a cause: timeout", r#"{"level":"error","msg":"query failed","error":"context deadline exceeded"}"#, Some(Timeout)),
            ("message names a cause: panic", r#"{"level":"fatal","msg":"panic: assignment to entry in nil map"}"#, Some(Panic)),
            ("error object names a cause: oom", r#"{"msg":"worker died","err":{"type":"RangeError","message":"JavaScript heap out of memory"}}"#, Some(Oom)),
            ("info with error in msg", r#"{"level":"info","msg":"0 errors"}"#, None),
            ("info with the word error", r#"{"level":"info","msg":"retry after error"}"#, None),
            ("declared warn wins over an error field", r#"{"level":"warn","msg":"slow query","error":"timeout"}"#, None),
            ("pino 30 is info", r#"{"level":30,"msg":"error budget ok"}"#, None),
            ("null error field", r#"{"msg":"done","error":null}"#, None),
            ("go nil error printed", r#"{"msg":"done","err":"<nil>"}"#, None),
            ("empty error field", r#"{"msg":"done","error":""}"#, None),
            ("no level: message read as text", r#"{"msg":"panic: boom"}"#, Some(Panic)),
            ("no level: plain error word", r#"{"message":"something error happened"}"#, Some(Error)),
            ("no level, nothing wrong", r#"{"msg":"booked room 4"}"#, None),
        ],
        classify,
    );
}

#[test]
#[rustfmt::skip] // one row per line: the tables are read, not diffed
fn log_router_envelope() {
    check(
        &[
            ("FireLens text payload", r#"{"container_name":"app","source":"stderr","log":"java.lang.NullPointerException"}"#, Some(Exception)),
            ("FireLens JSON payload at info", r#"{"source":"stdout","log":"{\"level\":\"info\",\"msg\":\"0 errors\"}"}"#, None),
            ("FireLens JSON payload at error", r#"{"source":"stdout","log":"{\"level\":\"error\",\"msg\":\"payment failed\"}"}"#, Some(StructuredError)),
            ("FireLens access line", r#"{"source":"stdout","log":"10.0.0.1 - - [01/Jan/2024:12:00:00 +0000] \"GET /api HTTP/1.1\" 502 0 \"-\" \"curl/8\""}"#, Some(Http5xx)),
        ],
        classify,
    );
}

#[test]
#[rustfmt::skip] // one row per line: the tables are read, not diffed
fn error() {
    check(
        &[
            ("spring ERROR level", "2024-01-01 12:00:00.000 ERROR 1 --- [main] o.s.boot.SpringApplication : Application run failed", Some(Error)),
            ("nginx [error]", "2024/01/01 12:00:00 [error] 29#29: *1 open() \"/usr/share/nginx/html/x\" failed (2: No such file or directory)", Some(Error)),
            ("logfmt level=error", "level=error msg=\"write failed\"", Some(Error)),
            ("logfmt lvl=err", "lvl=err msg=\"write failed\"", Some(Error)),
            ("go slog upper-case level", "time=2024-01-01T00:00:00Z level=ERROR msg=\"write failed\"", Some(Error)),
            ("Error: prefix", "Error: something bad", Some(Error)),
            ("npm ERR!", "npm ERR! code ELIFECYCLE", Some(Error)),
            ("python CRITICAL", "CRITICAL:root:worker lost", Some(Error)),
            ("nginx [crit]", "2024/01/01 12:00:00 [crit] 1#1: *3 SSL_do_handshake() failed", Some(Error)),
            ("colour codes around the level", "\x1b[31mERROR\x1b[0m db write failed", Some(Error)),
            ("0 errors", "processed 120 records, 0 errors", None),
            ("no errors", "processed 120 records, no errors", None),
            ("no error", "health: no error", None),
            ("terror", "terror alert level: low", None),
            ("mirror", "mirror synced", None),
            ("errorless", "errorless run completed", None),
            ("error_count=0", "batch done error_count=0", None),
            ("errors: 0", "summary errors: 0", None),
            ("error=0", "batch done error=0", None),
            ("error: null", "response error: null", None),
            ("without error", "finished without error", None),
            ("error-free", "error-free deploy", None),
            ("logfmt info level wins", "level=info msg=\"error rate nominal\"", None),
            ("already: no restart guessing", "already running, skipping", None),
            ("ready: no restart guessing", "service is ready", None),
            ("restarted: no restart category", "worker restarted by supervisor", None),
            ("empty line", "", None),
        ],
        classify,
    );
}
