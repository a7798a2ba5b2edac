//! The dialogue engines a server offers, by id.

use std::sync::Arc;

use crate::llm::{EngineInfo, Llm};

/// Engines by id, with one default.
#[derive(Clone)]
pub struct EngineRegistry {
    engines: Vec<Arc<dyn Llm>>,
    default_id: String,
}

impl EngineRegistry {
    /// A registry whose default is `default_id` (which must be among `engines`).
    pub fn new(engines: Vec<Arc<dyn Llm>>, default_id: impl Into<String>) -> Result<Self, String> {
        let default_id = default_id.into();
        if !engines.iter().any(|e| e.info().id == default_id) {
            let ids: Vec<_> = engines.iter().map(|e| e.info().id).collect();
            return Err(format!("default dialogue engine {default_id:?} is not configured (configured: {})", ids.join(", ")));
        }
        Ok(EngineRegistry { engines, default_id })
    }

    /// The engine for `id`, or the default for `None`.
    pub fn get(&self, id: Option<&str>) -> Option<Arc<dyn Llm>> {
        let id = id.unwrap_or(&self.default_id);
        self.engines.iter().find(|e| e.info().id == id).cloned()
    }

    /// The default engine's id.
    pub fn default_id(&self) -> &str {
        &self.default_id
    }

    /// What `engine_list` shows (the default is the one named by
    /// [`default_id`](Self::default_id)).
    pub fn list(&self) -> Vec<EngineInfo> {
        self.engines.iter().map(|e| e.info()).collect()
    }

    /// The ids, for error messages.
    pub fn ids(&self) -> Vec<String> {
        self.engines.iter().map(|e| e.info().id).collect()
    }
}
