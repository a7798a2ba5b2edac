//! The store's contract, run against real SQLite and real PostgreSQL.
//! PostgreSQL tests use a fresh database each (see `common`).

mod common;

use std::sync::Arc;

use waihu_core::{CallStatus, EndReason, Fen, HangupSide, Outcome, PhoneNumber, Utterance};
use waihu_store::*;

const RATE: Fen = Fen(30);

async fn sqlite() -> (SqlStore, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    (SqlStore::open_data_dir(dir.path()).await.unwrap(), dir)
}

async fn postgres() -> SqlStore {
    SqlStore::connect(&common::fresh_postgres_url().await).await.unwrap()
}

fn create(account: &str, phones: &[&str], idem: Option<(&str, &str)>) -> CreateCalls {
    CreateCalls {
        account_id: account.into(),
        calls: phones.iter().map(|p| NewCall { id: format!("c-{}-{p}", uuid::Uuid::new_v4().simple()), phone: PhoneNumber::parse(p).unwrap() }).collect(),
        order: CallOrder {
            requirement: "通知张总明天上午9点开会".into(),
            model_engine: "offline".into(),
            voice_id: "default".into(),
            volume: None,
            speed: None,
            emotion: None,
            record: Some(true),
            campaign: Some("spring".into()),
        },
        client_platform: None,
        client_version: None,
        rate: RATE,
        idempotency: idem.map(|(k, h)| (k.into(), h.into())),
        response: r#"{"success":true}"#.into(),
        now_ms: 1_000,
    }
}

fn finish(id: &str, connected_ms: i64) -> FinishCall {
    FinishCall {
        call_id: id.into(),
        status: if connected_ms > 0 { CallStatus::Completed } else { CallStatus::Busy },
        reason: EndReason::CalleeHangup,
        side: HangupSide::Callee,
        outcome: Some(Outcome::Delivered),
        connected_ms,
        provider_response: Some("BYE".into()),
        media_stats: Some(r#"{"packets_received":10}"#.into()),
        turn_stats: Some(r#"[{"total_ms":612.5}]"#.into()),
        now_ms: 90_000,
    }
}

macro_rules! both {
    ($($name:ident),* $(,)?) => {
        mod on_sqlite { $( #[tokio::test] async fn $name() { let (s, _d) = super::sqlite().await; super::$name(s).await; } )* }
        mod on_postgres { $( #[tokio::test] async fn $name() { super::$name(super::postgres().await).await; } )* }
    };
}

both!(
    accounts_get_their_credit_in_the_ledger,
    keys_authenticate_until_revoked,
    calls_reserve_a_minute_each_and_refuse_what_the_balance_cannot_pay,
    idempotency_key_replays_the_first_answer_and_refuses_a_different_body,
    finishing_charges_started_minutes_once_and_releases_the_reservation,
    a_refused_minute_leaves_the_balance_intact,
    transcript_lines_keep_their_order_and_refuse_duplicates,
    restart_recovery_ends_live_calls_as_failed_and_bills_only_connected_time,
    listing_filters_and_pages_newest_first,
    concurrent_creations_never_overspend,
);

async fn accounts_get_their_credit_in_the_ledger(s: SqlStore) {
    let a = s.create_account("acme", Fen(1000), 5).await.unwrap();
    assert_eq!(a.balance, Fen(1000));
    assert!(matches!(s.create_account("acme", Fen(1000), 6).await, Err(StoreError::AccountExists(_))));
    assert_eq!(s.top_up(&a.id, Fen(250), "bank transfer", 7).await.unwrap(), Fen(1250));
    let l = s.ledger(&a.id).await.unwrap();
    assert_eq!(l.iter().map(|e| (e.kind.as_str(), e.amount, e.balance_after)).collect::<Vec<_>>(), [("credit", Fen(1000), Fen(1000)), ("top_up", Fen(250), Fen(1250))]);
    assert_eq!(s.list_accounts().await.unwrap()[0].account.name, "acme");
}

async fn keys_authenticate_until_revoked(s: SqlStore) {
    let a = s.create_account("acme", Fen(1000), 5).await.unwrap();
    let key = s.create_key(&a.id, 6).await.unwrap();
    let other = s.create_key(&a.id, 6).await.unwrap();
    assert_eq!(s.authenticate(&key).await.unwrap().unwrap().id, a.id);
    assert!(s.authenticate("sk_wrong").await.unwrap().is_none());
    assert!(s.authenticate(&key[..key.len() - 1]).await.unwrap().is_none());
    assert_eq!(s.revoke_keys("sk_", 7).await.unwrap(), 0, "a short prefix revokes nothing");
    assert_eq!(s.revoke_keys(&key[..10], 7).await.unwrap(), 1);
    assert!(s.authenticate(&key).await.unwrap().is_none());
    assert!(s.authenticate(&other).await.unwrap().is_some());
}

async fn calls_reserve_a_minute_each_and_refuse_what_the_balance_cannot_pay(s: SqlStore) {
    let a = s.create_account("acme", Fen(100), 5).await.unwrap();
    assert_eq!(s.create_calls(create(&a.id, &["13800138000", "13900139000", "13000000001"], None)).await.unwrap(), CreateOutcome::Created);
    assert_eq!(s.balance(&a.id).await.unwrap(), Balance { balance: Fen(100), reserved: Fen(90) });
    match s.create_calls(create(&a.id, &["13000000002"], None)).await {
        Err(StoreError::InsufficientBalance { available, needed }) => assert_eq!((available, needed), (Fen(10), Fen(30))),
        other => panic!("{other:?}"),
    }
    let queued = s.queued_calls(10, &[]).await.unwrap();
    assert_eq!(queued.len(), 3);
    assert!(s.queued_calls(10, std::slice::from_ref(&a.id)).await.unwrap().is_empty(), "a saturated account is skipped");
    assert_eq!(queued[0].status, CallStatus::Queued);
    assert_eq!(queued[0].order.campaign.as_deref(), Some("spring"));
}

async fn idempotency_key_replays_the_first_answer_and_refuses_a_different_body(s: SqlStore) {
    let a = s.create_account("acme", Fen(1000), 5).await.unwrap();
    assert_eq!(s.create_calls(create(&a.id, &["13800138000"], Some(("key-12345", "h1")))).await.unwrap(), CreateOutcome::Created);
    let again = s.create_calls(create(&a.id, &["13800138000"], Some(("key-12345", "h1")))).await.unwrap();
    assert_eq!(again, CreateOutcome::Replayed(r#"{"success":true}"#.into()));
    assert_eq!(s.queued_calls(10, &[]).await.unwrap().len(), 1, "the retry did not create a second call");
    assert!(matches!(s.create_calls(create(&a.id, &["13900139000"], Some(("key-12345", "h2")))).await, Err(StoreError::IdempotencyMismatch(_))));
    let b = s.create_account("other", Fen(1000), 5).await.unwrap();
    assert_eq!(s.create_calls(create(&b.id, &["13800138000"], Some(("key-12345", "h1")))).await.unwrap(), CreateOutcome::Created, "keys are per account");
}

async fn finishing_charges_started_minutes_once_and_releases_the_reservation(s: SqlStore) {
    let a = s.create_account("acme", Fen(1000), 5).await.unwrap();
    let req = create(&a.id, &["13800138000", "13900139000"], None);
    let (c1, c2) = (req.calls[0].id.clone(), req.calls[1].id.clone());
    s.create_calls(req).await.unwrap();
    s.set_status(&c1, CallStatus::InProgress, 2_000).await.unwrap();
    assert!(s.reserve_minute(&c1, 50_000).await.unwrap());
    s.finish_call(&finish(&c1, 61_000)).await.unwrap();
    s.finish_call(&finish(&c1, 61_000)).await.unwrap();
    s.finish_call(&finish(&c2, 0)).await.unwrap();
    let r1 = s.call(&c1, Some(&a.id)).await.unwrap().unwrap();
    assert_eq!((r1.status, r1.cost, r1.billed, r1.duration_seconds), (CallStatus::Completed, Fen(60), true, Some(61)));
    assert_eq!(r1.media_stats.as_deref(), Some(r#"{"packets_received":10}"#));
    assert_eq!(r1.turn_stats.as_deref(), Some(r#"[{"total_ms":612.5}]"#));
    assert_eq!(r1.order.record, Some(true), "the call asked to be recorded");
    let r2 = s.call(&c2, None).await.unwrap().unwrap();
    assert_eq!((r2.status, r2.cost, r2.billed, r2.duration_seconds), (CallStatus::Busy, Fen(0), false, Some(0)));
    assert_eq!(s.balance(&a.id).await.unwrap(), Balance { balance: Fen(940), reserved: Fen(0) });
    let charges: Vec<_> = s.ledger(&a.id).await.unwrap().into_iter().filter(|e| e.kind == "call").collect();
    assert_eq!(charges.len(), 1, "one charge however often finish is called");
    assert_eq!((charges[0].amount, charges[0].balance_after), (Fen(-60), Fen(940)));
    assert!(s.call(&c1, Some("someone-else")).await.unwrap().is_none());
}

async fn a_refused_minute_leaves_the_balance_intact(s: SqlStore) {
    let a = s.create_account("acme", Fen(30), 5).await.unwrap();
    let req = create(&a.id, &["13800138000"], None);
    let c = req.calls[0].id.clone();
    s.create_calls(req).await.unwrap();
    assert!(!s.reserve_minute(&c, 10).await.unwrap());
    // Even if the network kept the call up past the paid minute, only that minute is charged.
    s.finish_call(&finish(&c, 75_000)).await.unwrap();
    assert_eq!(s.balance(&a.id).await.unwrap(), Balance { balance: Fen(0), reserved: Fen(0) });
}

async fn transcript_lines_keep_their_order_and_refuse_duplicates(s: SqlStore) {
    let a = s.create_account("acme", Fen(1000), 5).await.unwrap();
    let req = create(&a.id, &["13800138000"], None);
    let c = req.calls[0].id.clone();
    s.create_calls(req).await.unwrap();
    s.append_line(&c, 1, &Utterance::assistant("喂，您好，请问是张总吗？"), 10).await.unwrap();
    s.append_line(&c, 2, &Utterance::user("对，是我。"), 11).await.unwrap();
    assert!(s.append_line(&c, 2, &Utterance::user("again"), 12).await.is_err());
    let t = s.transcript(&c).await.unwrap();
    assert_eq!(t.iter().map(|l| (l.seq, l.content.as_str())).collect::<Vec<_>>(), [(1, "喂，您好，请问是张总吗？"), (2, "对，是我。")]);
}

async fn restart_recovery_ends_live_calls_as_failed_and_bills_only_connected_time(s: SqlStore) {
    let a = s.create_account("acme", Fen(1000), 5).await.unwrap();
    let req = create(&a.id, &["13800138000", "13900139000", "13000000001"], None);
    let ids: Vec<_> = req.calls.iter().map(|c| c.id.clone()).collect();
    s.create_calls(req).await.unwrap();
    s.set_status(&ids[0], CallStatus::Dialing, 1_000).await.unwrap();
    s.set_status(&ids[0], CallStatus::InProgress, 5_000).await.unwrap();
    s.append_line(&ids[0], 1, &Utterance::assistant("喂"), 20_000).await.unwrap();
    s.set_status(&ids[1], CallStatus::Ringing, 3_000).await.unwrap();
    let recovered = s.recover_interrupted(100_000).await.unwrap();
    assert_eq!(recovered.len(), 2);
    let r0 = s.call(&ids[0], None).await.unwrap().unwrap();
    assert_eq!((r0.status, r0.end_reason, r0.duration_seconds, r0.cost), (CallStatus::Failed, Some(EndReason::ServerRestart), Some(15), Fen(30)));
    assert_eq!(s.transcript(&ids[0]).await.unwrap().len(), 1, "the transcript survives");
    assert_eq!(s.call(&ids[1], None).await.unwrap().unwrap().cost, Fen(0));
    assert_eq!(s.call(&ids[2], None).await.unwrap().unwrap().status, CallStatus::Queued, "queued calls wait for the dispatcher");
    assert_eq!(s.balance(&a.id).await.unwrap(), Balance { balance: Fen(970), reserved: Fen(30) });
}

async fn listing_filters_and_pages_newest_first(s: SqlStore) {
    let a = s.create_account("acme", Fen(10_000), 5).await.unwrap();
    for i in 0..5 {
        let mut req = create(&a.id, &[["13800138000", "13900139000", "13000000001", "13000000002", "13000000003"][i]], None);
        req.now_ms = 1_000 * (i as i64 + 1);
        s.create_calls(req).await.unwrap();
    }
    let first = s.list_calls(&a.id, &CallFilter { limit: 2, ..Default::default() }).await.unwrap();
    assert_eq!(first.iter().map(|c| c.created_at).collect::<Vec<_>>(), [5_000, 4_000]);
    let last = first.last().unwrap();
    let next = s.list_calls(&a.id, &CallFilter { limit: 2, before: Some((last.created_at, last.id.clone())), ..Default::default() }).await.unwrap();
    assert_eq!(next.iter().map(|c| c.created_at).collect::<Vec<_>>(), [3_000, 2_000]);
    let window = s.list_calls(&a.id, &CallFilter { limit: 10, since_ms: Some(2_000), until_ms: Some(4_000), ..Default::default() }).await.unwrap();
    assert_eq!(window.len(), 2);
    s.finish_call(&finish(&first[0].id, 0)).await.unwrap();
    let busy = s.list_calls(&a.id, &CallFilter { limit: 10, status: Some(CallStatus::Busy), ..Default::default() }).await.unwrap();
    assert_eq!(busy.len(), 1);
}

async fn concurrent_creations_never_overspend(s: SqlStore) {
    let a = s.create_account("acme", Fen(300), 5).await.unwrap();
    let s = Arc::new(s);
    let mut tasks = Vec::new();
    for i in 0..20 {
        let s = s.clone();
        let id = a.id.clone();
        tasks.push(tokio::spawn(async move {
            let phone = format!("1380000{i:04}");
            s.create_calls(create(&id, &[phone.as_str()], None)).await
        }));
    }
    let mut ok = 0;
    for t in tasks {
        match t.await.unwrap() {
            Ok(_) => ok += 1,
            Err(StoreError::InsufficientBalance { .. }) => {}
            Err(e) => panic!("{e}"),
        }
    }
    assert_eq!(ok, 10);
    assert_eq!(s.balance(&a.id).await.unwrap(), Balance { balance: Fen(300), reserved: Fen(300) });
}
