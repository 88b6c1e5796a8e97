//! What a fresh look at AWS found, after the grace period, about one candidate instance.
//! The adapters in `sentinel-aws` fill the kernel's views from API responses; the decision
//! reads only these.

pub use sentinel_core::views::{ContainerInstanceView, NodeView};
use sentinel_core::ClusterView;

/// Everything the decision needs about one candidate. `None` means "looked for, not found";
/// lookups that are not needed (for example a node whose agent is back) are also `None`,
/// and the decision never reads them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Observation {
    pub cluster: ClusterView,
    pub container_instance: Option<ContainerInstanceView>,
    pub node: Option<NodeView>,
}
