//! The word rules: one small function per category, each matching whole words.
//!
//! `Http5xx` and `StructuredError` are not here: they come from an access log's
//! status and a JSON logger's level, not from words (see `line.rs`).
//!
//! Each rule is a regex built from alternatives, and each alternative is paired
//! with a lower-case literal it cannot match without. The regex only runs when
//! the lower-cased line contains one of those literals: almost every line is
//! healthy, and a few substring searches cost far less than a dozen regex
//! scans, which matters when `logs summary` reads a day of a busy service.

use std::sync::LazyLock;

use regex_lite::{Match, Regex};

use crate::Category;

/// Builds a built-in pattern. Every pattern in this crate is a string literal,
/// and the `every_pattern_compiles` test builds each one, so a typo fails the
/// tests rather than an operator's run.
pub(crate) fn compile(pattern: &str) -> Regex {
    Regex::new(pattern).unwrap_or_else(|e| panic!("built-in pattern {pattern:?} is invalid: {e}"))
}

/// A line as the word rules read it: the text, and its ASCII lower-case copy
/// for the literal pre-checks (same length, so byte offsets agree).
pub(crate) struct Text<'a> {
    raw: &'a str,
    lower: String,
}

impl<'a> Text<'a> {
    pub(crate) fn new(raw: &'a str) -> Text<'a> {
        Text {
            raw,
            lower: raw.to_ascii_lowercase(),
        }
    }
}

/// One alternative of a rule: a lower-case literal that every match contains,
/// and the regex fragment.
type Alternative = (&'static str, &'static str);

/// A rule's alternatives, compiled.
pub(crate) struct Rule {
    needles: Vec<&'static str>,
    regex: Regex,
}

impl Rule {
    /// `flags` is an inline flag group such as `"(?i)"`, or `""`.
    fn new(flags: &str, alternatives: &[Alternative]) -> Rule {
        for (needle, fragment) in alternatives {
            // The pairing is the whole guarantee, so check what can be checked:
            // the needle is written, lower-case, in its fragment. (Debug builds,
            // hence every test run, since `every_pattern_compiles` builds each rule.)
            debug_assert!(
                !needle.is_empty() && fragment.to_ascii_lowercase().contains(needle),
                "needle {needle:?} is not spelled out in {fragment:?}"
            );
        }
        let mut needles: Vec<&'static str> = alternatives.iter().map(|(n, _)| *n).collect();
        needles.sort_unstable();
        needles.dedup();
        let body: Vec<String> = alternatives
            .iter()
            .map(|(_, f)| format!("(?:{f})"))
            .collect();
        Rule {
            needles,
            regex: compile(&format!("{flags}{}", body.join("|"))),
        }
    }

    fn may_match(&self, text: &Text<'_>) -> bool {
        self.needles.iter().any(|n| text.lower.contains(n))
    }

    fn is_match(&self, text: &Text<'_>) -> bool {
        self.may_match(text) && self.regex.is_match(text.raw)
    }

    /// Whether the rule matches somewhere `accept(before, after)` allows.
    fn matches_where(&self, text: &Text<'_>, accept: impl Fn(&str, &str) -> bool) -> bool {
        let raw = text.raw;
        self.may_match(text)
            && self
                .regex
                .find_iter(raw)
                .any(|m: Match<'_>| accept(&raw[..m.start()], &raw[m.end()..]))
    }
}

type WordRule = (Category, fn(&Text<'_>) -> bool);

/// The word rules in precedence order.
const WORD_RULES: [WordRule; 9] = [
    (Category::Panic, is_panic),
    (Category::Oom, is_oom),
    (Category::Fatal, is_fatal),
    (Category::PythonTraceback, is_python_traceback),
    (Category::Timeout, is_timeout),
    (Category::ConnectionError, is_connection_error),
    (Category::AuthError, is_auth_error),
    (Category::Exception, is_exception),
    (Category::Error, is_generic_error),
];

/// The first word category that matches, the plain word "error" included.
pub(crate) fn word_category(text: &str) -> Option<Category> {
    let text = Text::new(text);
    WORD_RULES
        .iter()
        .find(|(_, rule)| rule(&text))
        .map(|(c, _)| *c)
}

/// The first category that names a cause; the plain word "error" does not,
/// so a JSON line at level `error` that only says "error" stays `StructuredError`.
pub(crate) fn specific_category(text: &str) -> Option<Category> {
    let text = Text::new(text);
    WORD_RULES
        .iter()
        .filter(|(c, _)| *c != Category::Error)
        .find(|(_, rule)| rule(&text))
        .map(|(c, _)| *c)
}

// ---------------------------------------------------------------------------
// Context checks for words that are often written in the negative.

fn is_word_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || c == '_'
}

/// Whether `head` ends with `word` as a whole word, ASCII case-insensitive.
fn ends_with_word(head: &str, word: &str) -> bool {
    let Some(cut) = head.len().checked_sub(word.len()) else {
        return false;
    };
    head.get(cut..)
        .is_some_and(|tail| tail.eq_ignore_ascii_case(word))
        && head[..cut]
            .chars()
            .next_back()
            .is_none_or(|c| !is_word_char(c))
}

/// A negation just before the word: "non-fatal", "non fatal", "not fatal",
/// "no error", "without error", "zero timeouts", "0 error". ("nonfatal" needs no
/// check: `\bfatal\b` cannot match inside it.)
fn negated(before: &str) -> bool {
    const NEGATIONS: [&str; 6] = ["non", "not", "no", "without", "zero", "0"];
    let head = before.trim_end_matches(|c: char| c == '-' || c.is_whitespace());
    // The negation must be separated from the word ("non-", "no "); without a
    // separator `before` ends inside another word and `\b` already handled it.
    head.len() < before.len() && NEGATIONS.iter().any(|w| ends_with_word(head, w))
}

/// A counter or field right after the word that reports nothing wrong:
/// `error=0`, `fatal: false`, `err=<nil>`, `"error": null`.
fn reports_nothing(after: &str) -> bool {
    const NOTHING: [&str; 8] = ["0", "<nil>", "nil", "null", "none", "false", "[]", "{}"];
    let Some(value) = assigned_value(after) else {
        return false;
    };
    NOTHING.iter().any(|v| {
        value
            .get(..v.len())
            .is_some_and(|h| h.eq_ignore_ascii_case(v))
            && value[v.len()..]
                .chars()
                .next()
                .is_none_or(|c| !c.is_ascii_alphanumeric() && c != '.')
    })
}

/// The value in `key=value`, `key: value` or `"key": "value"` when `after` is
/// what follows the key.
fn assigned_value(after: &str) -> Option<&str> {
    let rest = after.trim_start_matches('"').trim_start();
    let rest = rest.strip_prefix(['=', ':'])?;
    Some(rest.trim_start().trim_start_matches('"'))
}

/// A setting echoed from configuration: `timeout=30`, `timeout: 30s`, `"timeout": 5000`.
fn is_numeric_setting(after: &str) -> bool {
    assigned_value(after).is_some_and(|v| v.starts_with(|c: char| c.is_ascii_digit()))
}

// ---------------------------------------------------------------------------
// One function per category.

/// Go's runtime (`panic: ...`, the `[running]` goroutine of a crash dump, and
/// net/http's recovered `http: panic serving`), Rust (`thread 'x' panicked at`),
/// and `PANIC` as an upper-case word (PostgreSQL's severity, Node crash
/// reporters). Case matters: "no panic here" or "panicked" in prose is not one.
/// Only the `[running]` goroutine counts, because with `GOTRACEBACK=all` one
/// crash prints a `goroutine N [...]` header for every goroutine.
static PANIC: LazyLock<Rule> = LazyLock::new(|| {
    Rule::new(
        "",
        &[
            ("panic: ", r"\bpanic: "),
            ("panic serving", r"\bpanic serving\b"),
            ("goroutine ", r"goroutine \d+ \[running\]"),
            ("' panicked at", r"thread '[^']*' panicked at"),
            ("panic", r"\bPANIC\b"),
        ],
    )
});

fn is_panic(text: &Text<'_>) -> bool {
    PANIC.is_match(text)
}

/// "oom" only as a word (never "room", "bloom", "zoom"), the kernel's and
/// Kubernetes' OOM-killer wording, every runtime's out-of-memory message, and
/// Python's `MemoryError` (case-sensitive: it is a class name).
static OOM: LazyLock<Rule> = LazyLock::new(|| {
    Rule::new(
        "(?i)",
        &[
            ("oom", r"\boom\b"),
            ("oom", r"\boom[-_ ]?kill"),
            ("out of memory", "out of memory"),
            ("outofmemory", "outofmemory"),
            ("cannot allocate memory", "cannot allocate memory"),
            ("memory limit exceeded", "memory limit exceeded"),
            ("bad_alloc", r"\bbad_alloc\b"),
            (
                "memory allocation of ",
                r"memory allocation of \d+ bytes failed",
            ),
            ("memoryerror", r"(?-i:\bMemoryError\b)"),
        ],
    )
});

fn is_oom(text: &Text<'_>) -> bool {
    OOM.is_match(text)
}

static FATAL: LazyLock<Rule> = LazyLock::new(|| Rule::new("(?i)", &[("fatal", r"\bfatal\b")]));

/// A process killed by a crash signal says so without the word "fatal".
static CRASH: LazyLock<Rule> = LazyLock::new(|| {
    Rule::new(
        "(?i)",
        &[
            ("segmentation fault", "segmentation fault"),
            ("sigsegv", r"\bsigsegv\b"),
            ("core dumped", r"\bcore dumped\b"),
        ],
    )
});

/// "fatal" as a word, unless negated ("non-fatal", "not fatal") or a zero
/// counter (`fatal=0`); and crash signals (`Segmentation fault (core dumped)`,
/// `SIGSEGV`), which end the process just as surely.
fn is_fatal(text: &Text<'_>) -> bool {
    CRASH.is_match(text)
        || FATAL.matches_where(text, |before, after| {
            !negated(before) && !reports_nothing(after)
        })
}

/// The first line of every Python traceback.
fn is_python_traceback(text: &Text<'_>) -> bool {
    text.raw.contains("Traceback (most recent call last)")
}

/// Timeout wording that always counts.
static TIMED_OUT: LazyLock<Rule> = LazyLock::new(|| {
    Rule::new(
        "(?i)",
        &[
            ("timed out", r"\btimed out\b"),
            ("timeout", r"timeout(?:error|exception)\b"),
            ("exceeded", r"deadline[ _]?exceeded\b"),
            ("timedout", r"\be(?:socket)?timedout\b"),
            ("time-out", r"\btime-out\b"),
        ],
    )
});

static TIMEOUT_WORD: LazyLock<Rule> =
    LazyLock::new(|| Rule::new("(?i)", &[("timeout", r"\btimeout\b")]));

/// Timeouts in the words of most runtimes. A `504 Gateway Time-out` in an
/// access-log line is `Http5xx` (access lines are judged by status), but in an
/// application's own message it is a timeout. The bare word "timeout" does not
/// count when it is a setting being echoed (`timeout=30`, `timeout: 30s`),
/// negated, or a zero counter; "timed out" and the error names always count.
fn is_timeout(text: &Text<'_>) -> bool {
    TIMED_OUT.is_match(text)
        || TIMEOUT_WORD.matches_where(text, |before, after| {
            !negated(before) && !is_numeric_setting(after) && !reports_nothing(after)
        })
}

/// Connections refused, reset, unreachable, or never resolved, in libc, Node,
/// Go, Java and Python wording.
static CONNECTION: LazyLock<Rule> = LazyLock::new(|| {
    Rule::new(
        "(?i)",
        &[
            ("conn", r"connection (?:refused|reset|aborted)"),
            ("conn", r"\beconn(?:refused|reset|aborted)\b"),
            ("broken pipe", "broken pipe"),
            ("epipe", r"\bepipe\b"),
            ("no route to host", "no route to host"),
            ("unreach", r"\be(?:host|net)unreach\b"),
            ("connect", r"(?:could not|couldn't|unable to) connect"),
            ("connect", r"failed to (?:re)?connect\b"),
            ("name or service not known", "name or service not known"),
            ("enotfound", r"\benotfound\b"),
            ("name resolution", "temporary failure in name resolution"),
            ("no such host", r"\bno such host\b"),
        ],
    )
});

fn is_connection_error(text: &Text<'_>) -> bool {
    CONNECTION.is_match(text)
}

/// Authentication and authorisation failures as words, including AWS error
/// codes. Never a bare 401/403: numbers are for access-log lines, which are
/// judged by status (and a 4xx is the client's problem, not an error here).
static AUTH: LazyLock<Rule> = LazyLock::new(|| {
    Rule::new(
        "(?i)",
        &[
            ("unauthori", r"\bunauthori[sz]ed\b"),
            ("unauthorizedoperation", r"\bunauthorizedoperation\b"),
            ("forbidden", r"\bforbidden\b"),
            ("denied", r"\baccess ?denied"),
            ("denied", r"\bpermission denied\b"),
            ("failed", r"\bauth(?:entication)? failed\b"),
            ("invalid ", r"\binvalid (?:token|credentials|api key)\b"),
            ("expired", r"\b(?:token|jwt) (?:has )?expired\b"),
            ("expiredtoken", r"\bexpiredtoken"),
            ("invalidclienttokenid", r"\binvalidclienttokenid\b"),
            ("signaturedoesnotmatch", r"\bsignaturedoesnotmatch\b"),
            ("eacces", r"\beacces\b"),
            ("not authorized to", r"\bnot authorized to\b"),
        ],
    )
});

fn is_auth_error(text: &Text<'_>) -> bool {
    AUTH.is_match(text)
}

/// Exception class names and the runtimes' "unhandled" wording.
///
/// `\w+Exception\b` needs at least one character before "Exception" and a word
/// end after it, so `NullPointerException` counts while `ExceptionHandler
/// registered` does not. A Python/JavaScript error class (`ValueError: ...`,
/// `TypeError: ...`, `sqlalchemy.exc.OperationalError: ...`) counts at the start
/// of the line or after a space, CamelCase and followed by ": "; bare
/// `Error: x` is left to the generic rule.
static EXCEPTION: LazyLock<Rule> = LazyLock::new(|| {
    Rule::new(
        "",
        &[
            ("exception", r"\w+Exception\b"),
            ("exception in thread", r"\bException in thread\b"),
            ("exception: ", r"^Exception: "),
            (
                "error: ",
                r"(?:^|\s)(?:[a-z_]\w*\.)*[A-Z][A-Za-z0-9]*Error: ",
            ),
            ("exception", r"(?i:\bun(?:caught|handled) ?exception\b)"),
            ("uncaught ", r"(?i:\buncaught \w*(?:error|exception)\b)"),
            ("rejection", r"(?i:\bunhandled ?(?:promise ?)?rejection)"),
        ],
    )
});

fn is_exception(text: &Text<'_>) -> bool {
    EXCEPTION.is_match(text)
}

static ERROR_WORD: LazyLock<Rule> = LazyLock::new(|| Rule::new("(?i)", &[("error", r"\berror\b")]));

static ERROR_LEVEL_WORDS: LazyLock<Rule> = LazyLock::new(|| {
    Rule::new(
        "",
        &[
            ("err", r"\bERR\b"),
            ("critical", r"\bCRITICAL\b"),
            ("crit", r"\[(?:\w+:)?crit\]"),
            ("alert", r"\[(?:\w+:)?alert\]"),
            ("emerg", r"\[(?:\w+:)?emerg\]"),
        ],
    )
});

/// The plain word "error" (not "errors", "errorless", "terror", "mirror"),
/// unless negated ("no error", "without error"), a zero counter (`error=0`,
/// `error: null`) or "error-free"; plus upper-case `ERR`/`CRITICAL` level words
/// and the nginx/Apache `[crit]`, `[alert]`, `[emerg]` levels. logfmt's
/// `level=error`/`lvl=err` is handled where the level is read (`line.rs`).
fn is_generic_error(text: &Text<'_>) -> bool {
    ERROR_LEVEL_WORDS.is_match(text)
        || ERROR_WORD.matches_where(text, |before, after| {
            !negated(before) && !reports_nothing(after) && !after.starts_with("-free")
        })
}

#[cfg(test)]
pub(crate) fn force_patterns() {
    for rule in [
        &PANIC,
        &OOM,
        &FATAL,
        &CRASH,
        &TIMED_OUT,
        &TIMEOUT_WORD,
        &CONNECTION,
        &AUTH,
        &EXCEPTION,
        &ERROR_WORD,
        &ERROR_LEVEL_WORDS,
    ] {
        // Building a rule compiles its regex and checks its needles.
        assert!(!LazyLock::force(rule).needles.is_empty());
    }
}
