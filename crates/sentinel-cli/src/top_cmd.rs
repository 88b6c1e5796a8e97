//! `ecs-sentinel top`: the whole fleet's trouble at a glance, live. Every refresh reads what
//! `why` reads (one window of the event log, one query of the fleet table, a scan without
//! `--cluster`, one scan of the alert table; never a container's log) and shows
//! [`sentinel_why::board`]: agents down, services failing or recovered with their cause, the
//! monitors' open alerts, the latest stopped tasks. Keys select a service and show its
//! `why`, filter, refresh and quit. `--once` prints one frame as plain text, without the
//! selection and the keys.

use crate::args::TopArgs;
use crate::locate::Aws;
use crate::why_cmd::{read_sources, Located, Readings, Sources};
use chrono::{DateTime, Local, TimeDelta, Utc};
use ratatui::backend::TestBackend;
use ratatui::crossterm::event::{self, Event, KeyCode, KeyEventKind};
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::{Color, Modifier, Style};
use ratatui::text::Line;
use ratatui::widgets::{Block, Paragraph, Row, Table, TableState, Wrap};
use ratatui::{Frame, Terminal};
use sentinel_why::{board, observe, Alert, Board, Observation, Status, Trouble};
use std::io::Write;
use std::time::{Duration, Instant};

/// Stopped tasks listed, at most.
const STOPPED_SHOWN: usize = 50;
/// `--once`'s frame: wide enough for reasons, tall enough for a busy fleet.
const ONCE_WIDTH: u16 = 140;
const ONCE_HEIGHT: u16 = 40;

/// What the screen shows, and where the reader is in it.
pub struct App {
    pub cluster: Option<String>,
    pub since: TimeDelta,
    pub board: Board,
    pub observed: Vec<Observation>,
    pub alerts: Vec<Alert>,
    pub sources: Sources,
    pub refreshed: DateTime<Utc>,
    /// The row selected among the services shown.
    pub selected: usize,
    /// Only services, instances and tasks whose text contains this.
    pub filter: String,
    /// Typing a filter (after `/`).
    pub typing: bool,
    /// Showing the selected service's `why`.
    pub detail: bool,
    /// The last refresh's error, shown until the next one works.
    pub error: Option<String>,
    pub colour: bool,
    /// A frame for `--once`: no selection marker, no key help.
    pub still: bool,
}

impl App {
    pub fn new(cluster: Option<String>, since: TimeDelta, colour: bool) -> Self {
        App {
            cluster,
            since,
            board: Board::default(),
            observed: Vec::new(),
            alerts: Vec::new(),
            sources: Sources::default(),
            refreshed: Utc::now(),
            selected: 0,
            filter: String::new(),
            typing: false,
            detail: false,
            error: None,
            colour,
            still: false,
        }
    }

    /// A new reading of the sources.
    pub fn show(&mut self, read: Readings, now: DateTime<Utc>) {
        self.observed = observe(self.cluster.as_deref(), &read.events, &read.records);
        self.alerts = read.alerts;
        self.board = board(
            &self.observed,
            &self.alerts,
            now - self.since,
            STOPPED_SHOWN,
        );
        self.sources = read.sources;
        self.refreshed = now;
        self.error = None;
        self.selected = self.selected.min(self.troubles().len().saturating_sub(1));
    }

    fn shown(&self, text: &str) -> bool {
        self.filter.is_empty() || text.to_lowercase().contains(&self.filter.to_lowercase())
    }

    fn troubles(&self) -> Vec<&Trouble> {
        self.board
            .troubles
            .iter()
            .filter(|t| self.shown(&format!("{} {} {}", t.cluster, t.service, t.kind())))
            .collect()
    }

    /// Handles one key; `false` to quit.
    pub fn key(&mut self, code: KeyCode) -> bool {
        if self.typing {
            match code {
                KeyCode::Enter | KeyCode::Esc => self.typing = false,
                KeyCode::Backspace => {
                    self.filter.pop();
                }
                KeyCode::Char(c) => self.filter.push(c),
                _ => {}
            }
            self.selected = 0;
            return true;
        }
        let rows = self.troubles().len();
        match code {
            KeyCode::Char('q') => return false,
            KeyCode::Esc if self.detail => self.detail = false,
            KeyCode::Esc => return false,
            KeyCode::Down | KeyCode::Char('j') if rows > 0 => {
                self.selected = (self.selected + 1).min(rows - 1)
            }
            KeyCode::Up | KeyCode::Char('k') => self.selected = self.selected.saturating_sub(1),
            KeyCode::Enter if rows > 0 => self.detail = !self.detail,
            KeyCode::Char('/') => {
                self.typing = true;
                self.filter.clear();
            }
            _ => {}
        }
        true
    }

    fn style(&self, style: Style) -> Style {
        if self.colour {
            style
        } else {
            Style::default()
        }
    }
}

/// Draws the whole screen.
pub fn draw(frame: &mut Frame, app: &App) {
    let [head, agents, alerts, troubles, stopped, foot] = Layout::vertical([
        Constraint::Length(1),
        Constraint::Length(box_height(app.board.agents_down.len())),
        Constraint::Length(box_height(app.board.open_alerts.len())),
        Constraint::Min(6),
        Constraint::Percentage(30),
        Constraint::Length(1),
    ])
    .areas(frame.area());
    let scope = app.cluster.as_deref().unwrap_or("every cluster");
    let header = format!(
        "ecs-sentinel top: {scope}, last {}, refreshed {}{}",
        age(app.since),
        app.refreshed.with_timezone(&Local).format("%H:%M:%S"),
        if app.filter.is_empty() {
            String::new()
        } else {
            format!(", filter {:?}", app.filter)
        }
    );
    frame.render_widget(
        Paragraph::new(header).style(app.style(Style::default().add_modifier(Modifier::BOLD))),
        head,
    );
    draw_agents(frame, app, agents);
    draw_alerts(frame, app, alerts);
    if app.detail {
        draw_why(frame, app, troubles.union(stopped));
    } else {
        draw_troubles(frame, app, troubles);
        draw_stopped(frame, app, stopped);
    }
    let help = match (&app.error, app.typing) {
        (None, false) if app.still => format!("read: {}", read_note(&app.sources)),
        (_, true) => format!(
            "filter: {}_  (enter to keep, esc to stop typing)",
            app.filter
        ),
        (Some(error), _) => format!("could not refresh: {error}"),
        (None, _) => format!(
            "q quit  ↑↓ select  enter why  / filter  r refresh   read: {}",
            read_note(&app.sources)
        ),
    };
    let help_style = if app.error.is_some() {
        Style::default().fg(Color::Red)
    } else {
        Style::default().add_modifier(Modifier::DIM)
    };
    frame.render_widget(Paragraph::new(help).style(app.style(help_style)), foot);
}

/// A bordered box with a header row and up to 6 rows (1 when empty, for its message).
fn box_height(rows: usize) -> u16 {
    rows.clamp(1, 6) as u16 + 3
}

fn draw_alerts(frame: &mut Frame, app: &App, area: Rect) {
    let open: Vec<&Alert> = app
        .board
        .open_alerts
        .iter()
        .filter(|a| {
            app.shown(&format!(
                "{} {} {}",
                sentinel_why::Alert::target(a),
                a.kind(),
                a.cluster_arn
            ))
        })
        .collect();
    let title = format!(" Open alerts ({}) ", open.len());
    if open.is_empty() {
        frame.render_widget(
            Paragraph::new("no alert open").block(Block::bordered().title(title)),
            area,
        );
        return;
    }
    let rows = open.iter().map(|a| {
        Row::new(vec![
            a.cluster_arn
                .rsplit('/')
                .next()
                .unwrap_or(&a.cluster_arn)
                .to_owned(),
            a.target().to_owned(),
            a.counts(),
            a.opened_at.map_or("-".to_owned(), |t| {
                t.format("%Y-%m-%d %H:%M:%SZ").to_string()
            }),
            a.notices_sent.to_string(),
        ])
        .style(app.style(Style::default().fg(Color::Red)))
    });
    let table = Table::new(
        rows,
        [
            Constraint::Length(16),
            Constraint::Length(22),
            Constraint::Min(24),
            Constraint::Length(22),
            Constraint::Length(8),
        ],
    )
    .header(Row::new(["CLUSTER", "ON", "KIND", "SINCE", "NOTICES"]).style(bold(app)))
    .block(Block::bordered().title(title));
    frame.render_widget(table, area);
}

fn draw_agents(frame: &mut Frame, app: &App, area: Rect) {
    let down: Vec<_> = app
        .board
        .agents_down
        .iter()
        .filter(|a| app.shown(&format!("{} {}", a.cluster, a.instance)))
        .collect();
    let title = format!(" Agents down ({}) ", down.len());
    let rows = down.iter().map(|a| {
        Row::new(vec![
            a.cluster.clone(),
            a.instance.clone(),
            format!("since {}", a.since.format("%Y-%m-%d %H:%M:%SZ")),
        ])
        .style(app.style(Style::default().fg(Color::Red)))
    });
    let table = Table::new(
        rows,
        [
            Constraint::Length(16),
            Constraint::Length(22),
            Constraint::Min(20),
        ],
    )
    .header(Row::new(["CLUSTER", "INSTANCE", "DISCONNECTED"]).style(bold(app)))
    .block(Block::bordered().title(title));
    if down.is_empty() {
        frame.render_widget(
            Paragraph::new("every agent connected")
                .block(Block::bordered().title(" Agents down (0) ")),
            area,
        );
    } else {
        frame.render_widget(table, area);
    }
}

fn draw_troubles(frame: &mut Frame, app: &App, area: Rect) {
    let troubles = app.troubles();
    let title = format!(
        " Services in trouble ({} of {} seen) ",
        troubles.len(),
        app.board.services_seen
    );
    let rows = troubles.iter().map(|t| {
        let status = t.answer.status.as_str().to_ascii_uppercase();
        let colour = if t.answer.status == Status::Failing {
            Color::Red
        } else {
            Color::Yellow
        };
        let summary = t
            .answer
            .cause
            .as_ref()
            .map_or(String::new(), |c| c.summary.clone());
        Row::new(vec![
            t.cluster.clone(),
            t.service.clone(),
            status,
            t.kind().to_owned(),
            summary,
        ])
        .style(app.style(Style::default().fg(colour)))
    });
    let table = Table::new(
        rows,
        [
            Constraint::Length(16),
            Constraint::Length(20),
            Constraint::Length(10),
            Constraint::Length(22),
            Constraint::Min(20),
        ],
    )
    .header(Row::new(["CLUSTER", "SERVICE", "STATUS", "CAUSE", "SUMMARY"]).style(bold(app)))
    .row_highlight_style(Style::default().add_modifier(Modifier::REVERSED))
    .highlight_symbol("> ")
    .block(Block::bordered().title(title));
    let mut state = TableState::default();
    if !troubles.is_empty() && !app.still {
        state.select(Some(app.selected));
    }
    frame.render_stateful_widget(table, area, &mut state);
}

fn draw_stopped(frame: &mut Frame, app: &App, area: Rect) {
    let stopped: Vec<_> = app
        .board
        .stopped
        .iter()
        .filter(|s| {
            app.shown(&format!(
                "{} {} {} {}",
                s.cluster, s.group, s.task, s.reason
            ))
        })
        .collect();
    let rows = stopped.iter().map(|s| {
        Row::new(vec![
            s.at.format("%H:%M:%SZ").to_string(),
            s.cluster.clone(),
            s.group.clone(),
            s.task.clone(),
            s.reason.clone(),
        ])
    });
    let table = Table::new(
        rows,
        [
            Constraint::Length(10),
            Constraint::Length(12),
            Constraint::Length(18),
            Constraint::Length(32),
            Constraint::Min(20),
        ],
    )
    .header(Row::new(["STOPPED", "CLUSTER", "GROUP", "TASK", "REASON"]).style(bold(app)))
    .block(Block::bordered().title(format!(" Latest stopped tasks ({}) ", stopped.len())));
    frame.render_widget(table, area);
}

/// The selected service's `why`, from the observations already read.
fn draw_why(frame: &mut Frame, app: &App, area: Rect) {
    let troubles = app.troubles();
    let Some(trouble) = troubles.get(app.selected) else {
        return;
    };
    let answer = &trouble.answer;
    let mut lines = vec![Line::from(format!(
        "{}: {}",
        answer.subject.describe(),
        answer.status.as_str().to_ascii_uppercase()
    ))];
    if let Some(cause) = &answer.cause {
        lines.push(Line::from(format!(
            "cause: {} — {}",
            cause.kind.as_str(),
            cause.summary
        )));
        lines.extend(
            cause
                .evidence
                .iter()
                .map(|e| Line::from(format!("  - {e}"))),
        );
    }
    lines.push(Line::from(""));
    lines.extend(answer.timeline.iter().map(|e| {
        Line::from(format!(
            "{}  {:<11}  {}",
            e.time.format("%H:%M:%SZ"),
            e.source,
            e.text
        ))
    }));
    let title = format!(" why {} (esc to go back) ", trouble.service);
    frame.render_widget(
        Paragraph::new(lines)
            .wrap(Wrap { trim: false })
            .block(Block::bordered().title(title)),
        area,
    );
}

fn bold(app: &App) -> Style {
    app.style(Style::default().add_modifier(Modifier::BOLD))
}

fn read_note(sources: &Sources) -> String {
    let one = |read: &Option<crate::why_cmd::Read>, what: &str| match read {
        Some(r) => format!("{what} {} ({})", r.name, r.read),
        None => format!("no {what}"),
    };
    format!(
        "{}, {}, {}",
        one(&sources.event_log, "event log"),
        one(&sources.fleet_table, "fleet table"),
        one(&sources.alert_table, "alert table")
    )
}

fn age(d: TimeDelta) -> String {
    match d.num_minutes() {
        m if m % (24 * 60) == 0 && m > 0 => format!("{}d", m / (24 * 60)),
        m if m % 60 == 0 && m > 0 => format!("{}h", m / 60),
        m => format!("{m}m"),
    }
}

/// One frame as plain text (`--once`, and terminals that are not TTYs): the screen drawn
/// into a buffer of `width` × `height`, each line without its trailing blanks.
pub fn frame_text(app: &App, width: u16, height: u16) -> anyhow::Result<String> {
    let mut terminal = Terminal::new(TestBackend::new(width, height))?;
    terminal.draw(|frame| draw(frame, app))?;
    let buffer = terminal.backend().buffer();
    let mut text = String::new();
    for row in buffer.content().chunks(usize::from(width.max(1))) {
        let line: String = row.iter().map(|cell| cell.symbol()).collect();
        text.push_str(line.trim_end());
        text.push('\n');
    }
    Ok(text)
}

/// One still frame as plain text (`--once`): read once, drawn without the selection and
/// the keys; a reading that failed is an error here.
pub async fn once(
    located: &Located,
    cluster: Option<String>,
    since: TimeDelta,
) -> anyhow::Result<String> {
    let mut app = App::new(cluster, since, false);
    refresh(located, &mut app).await;
    if let Some(error) = app.error.take() {
        anyhow::bail!("{error}");
    }
    app.still = true;
    frame_text(&app, ONCE_WIDTH, ONCE_HEIGHT)
}

/// Reads the sources again into `app` (an error is shown, and the last reading kept).
async fn refresh(located: &Located, app: &mut App) {
    let now = Utc::now();
    match read_sources(located, app.cluster.as_deref(), now - app.since).await {
        Ok(read) => app.show(read, now),
        Err(e) => app.error = Some(format!("{e:#}")),
    }
}

/// `ecs-sentinel top`.
pub async fn run(args: TopArgs, aws: &Aws, out: &mut impl Write) -> anyhow::Result<()> {
    let located = Located::find(aws, &args.state).await?;
    let interactive = !args.once && std::io::IsTerminal::is_terminal(&std::io::stdout());
    let colour = interactive && std::env::var_os("NO_COLOR").is_none();
    if !interactive {
        write!(
            out,
            "{}",
            once(&located, args.cluster.clone(), args.since).await?
        )?;
        return Ok(());
    }
    let mut app = App::new(args.cluster.clone(), args.since, colour);
    refresh(&located, &mut app).await;
    let every = args
        .every
        .to_std()
        .unwrap_or(Duration::from_secs(10))
        .max(Duration::from_secs(1));
    let mut terminal = ratatui::try_init()?;
    let looped = live(&mut terminal, &mut app, &located, every).await;
    ratatui::try_restore()?;
    looped
}

/// Draws, reads keys, and refreshes every `every` (or on `r`) until `q`.
async fn live(
    terminal: &mut ratatui::DefaultTerminal,
    app: &mut App,
    located: &Located,
    every: Duration,
) -> anyhow::Result<()> {
    let mut next = Instant::now() + every;
    loop {
        terminal.draw(|frame| draw(frame, app))?;
        let wait = next.saturating_duration_since(Instant::now());
        // Keys are read in short slices, so a refresh is never late by more than one.
        if event::poll(wait.min(Duration::from_millis(250)))? {
            if let Event::Key(key) = event::read()? {
                if key.kind != KeyEventKind::Press {
                    continue;
                }
                if key.code == KeyCode::Char('r') && !app.typing {
                    next = Instant::now();
                } else if !app.key(key.code) {
                    return Ok(());
                }
            }
        }
        if Instant::now() >= next {
            refresh(located, app).await;
            next = Instant::now() + every;
        }
    }
}

#[cfg(test)]
mod tests;
