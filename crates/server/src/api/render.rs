//! Stored rows and engine descriptions to their wire shapes.

use chrono::{DateTime, SecondsFormat};
use waihu_agent::EngineRegistry;
use waihu_core::Role;
use waihu_speech::VoiceInfo;
use waihu_store::{CallRow, Line};
use waihu_wire::{CallRecord, ContentLine};

pub(crate) fn rfc3339(ms: i64) -> String {
    DateTime::from_timestamp_millis(ms).map(|t| t.to_rfc3339_opts(SecondsFormat::Secs, true)).unwrap_or_default()
}

pub(crate) fn record(call: &CallRow, lines: &[Line]) -> CallRecord {
    let ended = call.status.is_final();
    CallRecord {
        call_id: call.id.clone(),
        phones: call.phone.clone(),
        user_requirement: call.order.requirement.clone(),
        status: call.status.as_str().to_owned(),
        duration_seconds: if ended { Some(call.duration_seconds.unwrap_or(0)) } else { None },
        cost: call.cost.as_yuan(),
        billed: call.billed,
        created_at: rfc3339(call.created_at),
        answered_at: call.answered_at.map(rfc3339),
        ended_at: if ended { call.ended_at.map(rfc3339) } else { None },
        call_content: lines
            .iter()
            .filter(|l| l.role != Role::System)
            .map(|l| ContentLine { role: l.role.as_str().to_owned(), content: l.content.clone() })
            .collect(),
        provider_response: call.provider_response.clone(),
        hangup_by: call.hangup_by.map(|s| s.as_str().to_owned()),
        end_reason: call.end_reason.map(|s| s.as_str().to_owned()),
        outcome: call.outcome.map(|s| s.as_str().to_owned()),
        model_engine: call.order.model_engine.clone(),
        voice_id: call.order.voice_id.clone(),
        campaign: call.order.campaign.clone(),
        media: call.media_stats.as_deref().and_then(|s| serde_json::from_str(s).ok()),
        turns: call.turn_stats.as_deref().and_then(|s| serde_json::from_str(s).ok()),
    }
}

/// The dialogue engines as `engine_list` shows them, the registry's default
/// marked.
pub(crate) fn engines(registry: &EngineRegistry) -> Vec<waihu_wire::EngineInfo> {
    registry
        .list()
        .into_iter()
        .map(|e| waihu_wire::EngineInfo { default: e.id == registry.default_id(), id: e.id, name: e.name, description: e.description })
        .collect()
}

/// The voices as `tts_list` shows them.
pub(crate) fn voices(voices: &[VoiceInfo]) -> Vec<waihu_wire::VoiceInfo> {
    voices.iter().map(|v| waihu_wire::VoiceInfo { id: v.id.clone(), name: v.name.clone(), language: v.language.clone(), default: v.default }).collect()
}
