//! `ecs-agent-probe`: one look at the ECS agent, one AgentDown datum (see the library).

use std::process::ExitCode;

// One thread is plenty for three concurrent requests, and keeps the on-host footprint small.
#[tokio::main(flavor = "current_thread")]
async fn main() -> ExitCode {
    let env = agent_probe::Env::process();
    let code = agent_probe::run(
        std::env::args_os(),
        &env,
        &mut std::io::stdout(),
        &mut std::io::stderr(),
    )
    .await;
    ExitCode::from(code)
}
