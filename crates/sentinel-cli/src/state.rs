//! The health state file: the last complete health report, which cron jobs and
//! `logs auto-diagnose` read. Written atomically (a temporary file in the same directory,
//! flushed to disk, then renamed over the old one), so a reader sees the old report or the
//! new one, never a part; and only from a complete check, so an outage of the checker (an
//! unreachable domain, an AWS error) never empties it.

use crate::health::report::HealthReport;
use anyhow::Context;
use std::io::Write;
use std::path::{Path, PathBuf};

/// Writes `report` to `path`, replacing what was there only once the new text is on disk.
pub fn write(path: &Path, report: &HealthReport) -> anyhow::Result<()> {
    let text = serde_json::to_vec_pretty(report).context("cannot serialise the report")?;
    let dir = match path.parent() {
        Some(dir) if !dir.as_os_str().is_empty() => dir.to_path_buf(),
        _ => PathBuf::from("."),
    };
    std::fs::create_dir_all(&dir)
        .with_context(|| format!("cannot create the state directory {}", dir.display()))?;
    let file_name = path
        .file_name()
        .with_context(|| format!("the state path {} names no file", path.display()))?;
    let temporary = dir.join(format!(
        ".{}.{}.tmp",
        file_name.to_string_lossy(),
        std::process::id()
    ));
    let written = (|| -> std::io::Result<()> {
        let mut file = std::fs::File::create(&temporary)?;
        file.write_all(&text)?;
        file.write_all(b"\n")?;
        file.sync_all()?;
        std::fs::rename(&temporary, path)
    })();
    if let Err(e) = written {
        // Leave no temporary file behind; the old state stays as it was.
        let _ = std::fs::remove_file(&temporary);
        return Err(e).with_context(|| format!("cannot write the state file {}", path.display()));
    }
    Ok(())
}

/// Reads the state file a health check wrote.
pub fn read(path: &Path) -> anyhow::Result<HealthReport> {
    let text = std::fs::read(path).with_context(|| {
        format!(
            "cannot read the health state file {} (run `ecs-sentinel health` with --state first)",
            path.display()
        )
    })?;
    serde_json::from_slice(&text).with_context(|| {
        format!(
            "{} is not a health report written by `ecs-sentinel health`",
            path.display()
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::health::report::HealthReport;

    fn report(cluster: &str) -> HealthReport {
        HealthReport::new(cluster.into(), chrono::Utc::now(), vec![], vec![], None)
    }

    fn scratch(name: &str) -> PathBuf {
        let dir =
            std::env::temp_dir().join(format!("sentinel-state-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        dir
    }

    #[test]
    fn a_report_replaces_the_old_one_whole_and_reads_back() -> anyhow::Result<()> {
        let dir = scratch("replace");
        let path = dir.join("nested").join("health.json");
        write(&path, &report("old"))?;
        write(&path, &report("new"))?;
        assert_eq!(read(&path)?.cluster, "new");
        let left: Vec<_> = std::fs::read_dir(path.parent().unwrap_or(&dir))?
            .filter_map(Result::ok)
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .collect();
        assert_eq!(
            left,
            vec!["health.json".to_owned()],
            "no temporary file is left"
        );
        std::fs::remove_dir_all(&dir)?;
        Ok(())
    }

    #[test]
    fn a_failed_write_keeps_the_old_state() -> anyhow::Result<()> {
        let dir = scratch("failed");
        let path = dir.join("health.json");
        write(&path, &report("old"))?;
        // A directory where the temporary file would go makes the write fail midway.
        let blocker = dir.join(format!(".health.json.{}.tmp", std::process::id()));
        std::fs::create_dir_all(&blocker)?;
        assert!(write(&path, &report("new")).is_err());
        assert_eq!(read(&path)?.cluster, "old");
        std::fs::remove_dir_all(&dir)?;
        Ok(())
    }

    #[test]
    fn an_unreadable_state_file_says_what_it_is() -> anyhow::Result<()> {
        let dir = scratch("garbage");
        std::fs::create_dir_all(&dir)?;
        let path = dir.join("health.json");
        std::fs::write(&path, "{}")?;
        let err = format!(
            "{:#}",
            read(&path)
                .err()
                .ok_or_else(|| anyhow::anyhow!("read {{}}"))?
        );
        assert!(err.contains("is not a health report"), "{err}");
        let missing = format!(
            "{:#}",
            read(&dir.join("none.json"))
                .err()
                .ok_or_else(|| anyhow::anyhow!("read missing"))?
        );
        assert!(missing.contains("run `ecs-sentinel health`"), "{missing}");
        std::fs::remove_dir_all(&dir)?;
        Ok(())
    }
}
