//! The dialogue engines a server offers, by id.

use std::sync::Arc;

use thiserror::Error;

use crate::llm::{EngineInfo, Llm};

/// Why a registry could not be made.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum RegistryError {
    /// The default engine is not among the engines.
    #[error("default dialogue engine {default_id:?} is not configured (configured: {})", configured.join(", "))]
    UnknownDefault {
        /// The id asked for as the default.
        default_id: String,
        /// The engines' ids.
        configured: Vec<String>,
    },
}

/// Engines by id, with one default.
#[derive(Clone)]
pub struct EngineRegistry {
    engines: Vec<Arc<dyn Llm>>,
    default_id: String,
}

impl EngineRegistry {
    /// A registry whose default is `default_id` (which must be among `engines`).
    pub fn new(engines: Vec<Arc<dyn Llm>>, default_id: impl Into<String>) -> Result<Self, RegistryError> {
        let default_id = default_id.into();
        let registry = EngineRegistry { engines, default_id };
        if registry.get(None).is_none() {
            return Err(RegistryError::UnknownDefault { configured: registry.ids(), default_id: registry.default_id });
        }
        Ok(registry)
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::offline::OfflineEngine;

    #[test]
    fn the_default_must_be_one_of_the_engines() {
        let engines: Vec<Arc<dyn Llm>> = vec![Arc::new(OfflineEngine::new())];
        let err = EngineRegistry::new(engines.clone(), "deepseek").err().unwrap();
        assert_eq!(err, RegistryError::UnknownDefault { default_id: "deepseek".into(), configured: vec!["offline".into()] });
        assert_eq!(err.to_string(), "default dialogue engine \"deepseek\" is not configured (configured: offline)");
        let registry = EngineRegistry::new(engines, "offline").unwrap();
        assert_eq!(registry.get(None).unwrap().info().id, "offline");
        assert!(registry.get(Some("deepseek")).is_none());
        assert_eq!((registry.list()[0].id.as_str(), registry.default_id()), ("offline", "offline"));
    }
}
