//! Where a command finds the stack's state: a name given outright, or the deployed stack's
//! outputs (`--stack NAME`), read once with DescribeStacks.

use anyhow::Context;
use std::collections::BTreeMap;

/// The outputs of a deployed ecs-sentinel stack.
pub struct StackOutputs {
    stack: String,
    outputs: BTreeMap<String, String>,
}

impl StackOutputs {
    pub async fn read(sdk: &sentinel_aws::sdk::SdkConfig, stack: &str) -> anyhow::Result<Self> {
        let described = aws_sdk_cloudformation::Client::new(sdk)
            .describe_stacks()
            .stack_name(stack)
            .send()
            .await
            .map_err(|e| {
                anyhow::anyhow!("{}", aws_sdk_cloudformation::error::DisplayErrorContext(&e))
            })
            .with_context(|| format!("cannot read the outputs of stack {stack:?}"))?;
        let outputs = described
            .stacks()
            .first()
            .map(|s| {
                s.outputs()
                    .iter()
                    .filter_map(|o| {
                        Some((o.output_key()?.to_owned(), o.output_value()?.to_owned()))
                    })
                    .collect()
            })
            .unwrap_or_default();
        Ok(StackOutputs {
            stack: stack.to_owned(),
            outputs,
        })
    }

    /// The output `name`, or an error that says which stack lacks it and why that may be.
    pub fn get(&self, name: &str) -> anyhow::Result<String> {
        self.outputs.get(name).cloned().ok_or_else(|| {
            anyhow::anyhow!(
                "stack {:?} has no output {name}: is it an ecs-sentinel stack of this version? (outputs: {})",
                self.stack,
                self.outputs.keys().cloned().collect::<Vec<_>>().join(", ")
            )
        })
    }
}

/// `given`, else the stack's output `output`; one of them is required.
pub async fn resolve(
    sdk: &sentinel_aws::sdk::SdkConfig,
    given: Option<String>,
    stack: Option<&str>,
    output: &str,
    flag: &str,
) -> anyhow::Result<String> {
    match (given, stack) {
        (Some(name), _) => Ok(name),
        (None, Some(stack)) => StackOutputs::read(sdk, stack).await?.get(output),
        (None, None) => anyhow::bail!(
            "say where the state is: {flag} NAME, or --stack NAME to read it from the deployed stack's output {output}"
        ),
    }
}
