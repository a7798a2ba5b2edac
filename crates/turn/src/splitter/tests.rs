use super::*;

/// Feeds `text` one character at a time and returns the chunk texts.
fn split(text: &str) -> Vec<String> {
    split_with(SplitterConfig::default(), text)
}

fn split_with(cfg: SplitterConfig, text: &str) -> Vec<String> {
    let mut s = SentenceSplitter::new(cfg);
    let mut out: Vec<String> = Vec::new();
    for c in text.chars() {
        out.extend(s.push(&c.to_string()).into_iter().map(|c| c.text));
    }
    out.extend(s.finish().map(|c| c.text));
    out
}

#[test]
fn first_clause_is_cut_at_its_comma() {
    assert_eq!(split("好的，您本月的账单是一百二十八元。请问还需要办理其他业务吗？"), ["好的，", "您本月的账单是一百二十八元。", "请问还需要办理其他业务吗？"]);
}

#[test]
fn a_one_character_first_clause_waits_for_more() {
    assert_eq!(split("好，我是王经理的AI助理，请问是张总吗？"), ["好，我是王经理的AI助理，", "请问是张总吗？"]);
}

#[test]
fn later_short_clauses_stay_with_their_sentence() {
    // After the first chunk, `张总，` (2 chars) is too short to say alone.
    assert_eq!(split("喂，您好，张总，明天上午九点开会，请您准时参加。"), ["喂，您好，", "张总，明天上午九点开会，", "请您准时参加。"]);
}

#[test]
fn the_comma_chunk_is_returned_by_the_push_that_brings_the_comma() {
    let mut s = SentenceSplitter::default();
    assert!(s.push("好").is_empty());
    assert!(s.push("的").is_empty());
    let got = s.push("，");
    assert_eq!(got, [Chunk { text: "好的，".into(), start: 0, end: 3, boundary: Boundary::Clause }]);
}

#[test]
fn a_full_stop_waits_one_character_for_closing_marks() {
    let mut s = SentenceSplitter::default();
    assert!(s.push("他说好。").is_empty());
    assert!(s.push("”").is_empty());
    let got = s.push("然后");
    assert_eq!(got[0].text, "他说好。”");
    assert_eq!(s.finish().unwrap().text, "然后");
}

#[test]
fn repeated_marks_and_ellipses_stay_together() {
    assert_eq!(split("真的吗？！太好了……我们走吧。"), ["真的吗？！", "太好了……", "我们走吧。"]);
    assert_eq!(split("Wait... what?! OK."), ["Wait... ", "what?! ", "OK."]);
}

#[test]
fn decimals_times_thousands_and_percentages_are_not_cut() {
    assert_eq!(split("价格是9.5元，时间是9:30，共1,000人，涨了12.5%，好吗？"), ["价格是9.5元，", "时间是9:30，", "共1,000人，", "涨了12.5%，好吗？"]);
    assert_eq!(split("一共有1，000个名额。"), ["一共有1，000个名额。"]);
    assert_eq!(split("时间改到9：30。请准时。"), ["时间改到9：30。", "请准时。"]);
}

#[test]
fn a_number_then_a_real_full_stop_is_cut() {
    assert_eq!(split("Total is 128. Thanks."), ["Total is 128. ", "Thanks."]);
    assert_eq!(split("共计128元。谢谢"), ["共计128元。", "谢谢"]);
}

#[test]
fn quoted_numbers_and_phrases_stay_whole() {
    assert_eq!(split("请拨打“400，800，1234”咨询，谢谢。"), ["请拨打“400，800，1234”咨询，", "谢谢。"]);
    assert_eq!(split("他说“好的，没问题”然后挂了。"), ["他说“好的，没问题”然后挂了。"]);
}

#[test]
fn english_words_urls_and_abbreviations_are_not_cut() {
    assert_eq!(split("请访问example.com查看。"), ["请访问example.com查看。"]);
    assert_eq!(split("Mr. Wang will call, e.g. tomorrow."), ["Mr. Wang will call,", " e.g. tomorrow."]);
    assert_eq!(split("详见https://a.cn/x?y=1，谢谢"), ["详见https://a.cn/x?y=1，", "谢谢"]);
}

#[test]
fn numbered_list_markers_are_not_sentence_ends() {
    assert_eq!(split("1. 带身份证\n2. 带合同"), ["1. 带身份证\n", "2. 带合同"]);
}

#[test]
fn a_run_on_text_is_forced_at_a_safe_point() {
    let cfg = SplitterConfig { max_chunk_chars: 10, ..SplitterConfig::default() };
    let chunks = split_with(cfg, "我们明天上午在三楼会议室开会讨论一百二十八个问题");
    assert_eq!(chunks.concat(), "我们明天上午在三楼会议室开会讨论一百二十八个问题");
    assert!(chunks.iter().all(|c| c.chars().count() <= 10), "{chunks:?}");
    // Never inside the Chinese numeral.
    assert!(chunks.iter().all(|c| !c.ends_with('一') && !c.ends_with('百') && !c.ends_with('二') && !c.ends_with('十')), "{chunks:?}");
}

#[test]
fn a_forced_cut_prefers_a_pause() {
    let cfg = SplitterConfig { max_chunk_chars: 12, min_first_clause_chars: 20, min_clause_chars: 20 };
    let chunks = split_with(cfg, "我们明天上午，在三楼会议室开会讨论问题");
    assert_eq!(chunks[0], "我们明天上午，");
}

#[test]
fn a_forced_cut_never_splits_an_english_word() {
    let cfg = SplitterConfig { max_chunk_chars: 8, ..SplitterConfig::default() };
    let chunks = split_with(cfg, "abcdefghijklmnop qrs");
    assert_eq!(chunks, ["abcdefghijklmnop", " qrs"]);
}

#[test]
fn offsets_are_char_offsets_in_the_reply_and_restart_after_finish() {
    let mut s = SentenceSplitter::default();
    let mut chunks = s.push("好的，您好。再见");
    chunks.extend(s.finish());
    let spans: Vec<_> = chunks.iter().map(|c| (c.start, c.end, c.boundary)).collect();
    assert_eq!(spans, [(0, 3, Boundary::Clause), (3, 6, Boundary::Sentence), (6, 8, Boundary::End)]);
    let again = s.push("好的，");
    assert_eq!((again[0].start, again[0].end), (0, 3));
}

#[test]
fn marks_without_words_are_not_a_chunk_of_their_own() {
    assert_eq!(split("好的。\n\n……请问"), ["好的。\n\n……", "请问"]);
    let mut s = SentenceSplitter::default();
    assert!(s.push("  ").is_empty());
    let rest = s.finish().unwrap();
    assert!(!rest.is_speakable());
}

#[test]
fn finish_on_nothing_is_none() {
    assert_eq!(SentenceSplitter::default().finish(), None);
}
