//! Transcript lines: what was said on a call, in order.

use sqlx::Row;
use waihu_core::{Role, Utterance};

use super::connection::SqlStore;
use crate::model::Line;
use crate::{Result, StoreError};

pub(super) async fn transcript(s: &SqlStore, call_id: &str) -> Result<Vec<Line>> {
    let rows = sqlx::query("SELECT seq, role, content, at FROM transcript_lines WHERE call_id = $1 ORDER BY seq").bind(call_id).fetch_all(&s.pool).await?;
    rows.iter()
        .map(|r| {
            let role: String = r.try_get("role")?;
            Ok(Line {
                seq: r.try_get::<i64, _>("seq")? as u32,
                role: Role::parse(&role).ok_or_else(|| StoreError::Corrupt(format!("role {role:?}")))?,
                content: r.try_get("content")?,
                at_ms: r.try_get("at")?,
            })
        })
        .collect()
}

pub(super) async fn append_line(s: &SqlStore, call_id: &str, seq: u32, line: &Utterance, now_ms: i64) -> Result<()> {
    let _g = s.lock().await;
    let mut tx = s.pool.begin().await?;
    sqlx::query("INSERT INTO transcript_lines (call_id, seq, role, content, at) VALUES ($1, $2, $3, $4, $5)")
        .bind(call_id)
        .bind(i64::from(seq))
        .bind(line.role.as_str())
        .bind(&line.content)
        .bind(now_ms)
        .execute(&mut *tx)
        .await?;
    // The last moment the call was known alive: what a restart bills up to.
    sqlx::query("UPDATE calls SET last_activity_at = $1 WHERE id = $2").bind(now_ms).bind(call_id).execute(&mut *tx).await?;
    tx.commit().await?;
    Ok(())
}
