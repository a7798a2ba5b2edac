//! Key lookup order, the secrets file, and redaction. The environment is a
//! closure and the home directory a temporary one: the real ones are never
//! read.

use std::collections::HashMap;
use std::path::Path;

use waihu_client::credentials::{home_dir, read_secrets_file, secrets_path};
use waihu_client::{require_api_key, resolve_api_key, ApiKey, ClientError, KeyOrigin};

fn env(vars: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
    let map: HashMap<String, String> = vars
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    move |name| map.get(name).cloned()
}

fn home_with_secrets(content: &str) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(dir.path().join(".clawd")).unwrap();
    std::fs::write(secrets_path(dir.path()), content).unwrap();
    dir
}

fn key_of(e: &impl Fn(&str) -> Option<String>, home: Option<&Path>) -> Option<(String, KeyOrigin)> {
    resolve_api_key(e, home)
        .unwrap()
        .map(|s| (s.key.expose().to_string(), s.origin))
}

#[test]
fn waihu_variable_wins_then_stepone_then_the_file() {
    let home = home_with_secrets(r#"{ "steponeai_api_key": "sk_from_file_000000000" }"#);
    let h = Some(home.path());
    assert_eq!(
        key_of(
            &env(&[
                ("WAIHU_API_KEY", "sk_waihu_1111111111"),
                ("STEPONEAI_API_KEY", "sk_stepone_2222222")
            ]),
            h
        ),
        Some((
            "sk_waihu_1111111111".into(),
            KeyOrigin::Env("WAIHU_API_KEY")
        ))
    );
    assert_eq!(
        key_of(&env(&[("STEPONEAI_API_KEY", "  sk_stepone_2222222\n")]), h),
        Some((
            "sk_stepone_2222222".into(),
            KeyOrigin::Env("STEPONEAI_API_KEY")
        )),
        "trimmed"
    );
    assert_eq!(
        key_of(
            &env(&[("WAIHU_API_KEY", "   "), ("STEPONEAI_API_KEY", "")]),
            h
        ),
        Some((
            "sk_from_file_000000000".into(),
            KeyOrigin::SecretsFile(secrets_path(home.path()))
        )),
        "empty variables are skipped"
    );
}

#[test]
fn no_key_anywhere_is_none_and_require_names_the_ways() {
    let empty_home = tempfile::tempdir().unwrap();
    assert_eq!(
        key_of(&env(&[]), Some(empty_home.path())),
        None,
        "no secrets file"
    );
    assert_eq!(key_of(&env(&[]), None), None, "no home");
    let blank = home_with_secrets(r#"{"steponeai_api_key": "  ", "other": 1}"#);
    assert_eq!(
        key_of(&env(&[]), Some(blank.path())),
        None,
        "empty key in the file"
    );
    let absent = home_with_secrets(r#"{"other_key": "x"}"#);
    assert_eq!(key_of(&env(&[]), Some(absent.path())), None);
    let null = home_with_secrets(r#"{"steponeai_api_key": null}"#);
    assert_eq!(key_of(&env(&[]), Some(null.path())), None);

    let e = require_api_key(&env(&[]), Some(empty_home.path())).unwrap_err();
    assert!(matches!(e, ClientError::NoApiKey));
    let msg = e.to_string();
    assert!(
        msg.contains("WAIHU_API_KEY")
            && msg.contains("STEPONEAI_API_KEY")
            && msg.contains("secrets.json"),
        "{msg}"
    );
}

#[test]
fn a_malformed_secrets_file_names_the_path_without_its_content() {
    let secret = "sk_must_not_leak_9999999";
    let cases = [
        format!(r#"{{"steponeai_api_key": "{secret}",, }}"#),
        format!(r#"["{secret}"]"#),
        format!(r#"{{"steponeai_api_key": ["{secret}"]}}"#),
        format!(r#"{{"steponeai_api_key": "{secret}""#),
    ];
    for content in cases {
        let home = home_with_secrets(&content);
        let e = resolve_api_key(&env(&[]), Some(home.path())).unwrap_err();
        let msg = e.to_string();
        assert!(
            matches!(e, ClientError::SecretsFile { .. }),
            "{content}: {e:?}"
        );
        assert!(
            msg.contains(&secrets_path(home.path()).display().to_string()),
            "names the path: {msg}"
        );
        assert!(!msg.contains("sk_must"), "leaks content: {msg}");
        assert!(
            !format!("{e:?}").contains("sk_must"),
            "Debug leaks content: {e:?}"
        );
        assert!(!msg.contains('\n'), "{msg}");
    }
    // An environment variable is taken without reading the broken file.
    let home = home_with_secrets("not json");
    assert!(resolve_api_key(
        &env(&[("WAIHU_API_KEY", "sk_env_key_12345678")]),
        Some(home.path())
    )
    .unwrap()
    .is_some());
}

#[test]
fn a_non_utf8_secrets_file_is_an_error() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(dir.path().join(".clawd")).unwrap();
    std::fs::write(secrets_path(dir.path()), [0xff, 0xfe, 0x00]).unwrap();
    let e = read_secrets_file(&secrets_path(dir.path())).unwrap_err();
    assert!(e.to_string().contains("not UTF-8"), "{e}");
}

#[test]
fn keys_never_print_whole() {
    let key = ApiKey::new("  sk_abcdefghijklmnopqrstuvwxyz\n").unwrap();
    assert_eq!(key.expose(), "sk_abcdefghijklmnopqrstuvwxyz");
    assert_eq!(format!("{key:?}"), "ApiKey(sk_abcd…)");
    assert_eq!(format!("{key}"), "sk_abcd…");
    let src = resolve_api_key(
        &env(&[("WAIHU_API_KEY", "sk_abcdefghijklmnopqrstuvwxyz")]),
        None,
    )
    .unwrap()
    .unwrap();
    let dbg = format!("{src:?}");
    assert!(
        !dbg.contains("sk_abcdefghijklmnopqrstuvwxyz") && dbg.contains("sk_abcd…"),
        "{dbg}"
    );
    // A short key shows less than half of itself.
    let short = ApiKey::new("sk_abcdef").unwrap();
    assert_eq!(format!("{short:?}"), "ApiKey(sk_…)");
    assert_eq!(ApiKey::new("   "), None);
}

#[test]
fn home_comes_from_home_or_userprofile() {
    assert_eq!(
        home_dir(&env(&[("HOME", "/home/a")])),
        Some("/home/a".into())
    );
    assert_eq!(
        home_dir(&env(&[("HOME", ""), ("USERPROFILE", "C:\\Users\\a")])),
        Some("C:\\Users\\a".into())
    );
    assert_eq!(home_dir(&env(&[])), None);
    assert!(secrets_path(Path::new("/h")).ends_with(".clawd/secrets.json"));
}
