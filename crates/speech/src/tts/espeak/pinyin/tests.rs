use super::*;

#[test]
fn the_task_sentence_reads_with_tones_and_the_hour_in_words() {
    assert_eq!(
        to_pinyin_text("通知张总明天上午9点开会"),
        "tong1 zhi1 zhang1 zong3 ming2 tian1 shang4 wu3 jiu3 dian3 kai1 hui4"
    );
}

#[test]
fn tones_neutral_tone_and_u_umlaut() {
    assert_eq!(to_pinyin_text("你好吗"), "ni3 hao3 ma5");
    assert_eq!(to_pinyin_text("我的女儿"), "wo3 de5 nv3 er2");
    assert_eq!(to_pinyin_text("绿色"), "lv4 se4");
}

#[test]
fn frequent_words_with_a_second_reading() {
    assert_eq!(to_pinyin_text("银行"), "yin2 hang2");
    assert_eq!(to_pinyin_text("我觉得很长"), "wo3 jue2 de5 hen3 chang2");
    assert_eq!(to_pinyin_text("重新说"), "chong2 xin1 shuo1");
}

#[test]
fn bu_and_yi_change_tone_as_spoken() {
    assert_eq!(to_pinyin_text("不是"), "bu2 shi4");
    assert_eq!(to_pinyin_text("不好"), "bu4 hao3");
    assert_eq!(to_pinyin_text("等一下"), "deng3 yi2 xia4");
    assert_eq!(to_pinyin_text("一起"), "yi4 qi3");
    // In numbers and dates 一 stays yi1.
    assert_eq!(to_pinyin_text("十一月"), "shi2 yi1 yue4");
    assert_eq!(to_pinyin_text("第一次"), "di4 yi1 ci4");
    assert_eq!(to_pinyin_text("统一"), "tong3 yi1");
}

#[test]
fn numbers_in_text() {
    assert_eq!(to_pinyin_text("下午2点"), "xia4 wu3 liang3 dian3");
    assert_eq!(to_pinyin_text("2月3号"), "er4 yue4 san1 hao4");
    assert_eq!(to_pinyin_text("2024年"), "er4 ling2 er4 si4 nian2");
    assert_eq!(to_pinyin_text("共1,500元"), "gong4 yi1 qian1 wu3 bai3 yuan2");
    assert_eq!(to_pinyin_text("打13800138000"), "da3 yao1 san1 ba1 ling2 ling2 yao1 san1 ba1 ling2 ling2 ling2");
    assert_eq!(to_pinyin_text("上午9:30到"), "shang4 wu3 jiu3 dian3 san1 shi2 dao4");
    assert_eq!(to_pinyin_text("涨了3.5%"), "zhang3 le5 bai3 fen1 zhi1 san1 dian3 wu3");
    // Full-width digits are digits.
    assert_eq!(to_pinyin_text("９点"), "jiu3 dian3");
}

#[test]
fn punctuation_becomes_pauses() {
    assert_eq!(to_pinyin_text("好的，明天见。"), "hao3 de5, ming2 tian1 jian4");
    assert_eq!(to_pinyin_text("是张总吗？"), "shi4 zhang1 zong3 ma5?");
    assert_eq!(to_pinyin_text("“喂”，您好！！……再见"), "wei4, nin2 hao3. zai4 jian4");
    assert_eq!(
        to_pieces("对，好"),
        [Piece::Syllable("dui4".into()), Piece::Pause(Pause::Comma), Piece::Syllable("hao3".into())]
    );
}

#[test]
fn latin_words_are_kept_whole_for_the_english_voice() {
    assert_eq!(to_pinyin_text("请查看API文档"), "qing3 cha2 kan4 API wen2 dang4");
    assert_eq!(
        to_pieces("用WiFi和5G"),
        [
            Piece::Syllable("yong4".into()),
            Piece::Latin("WiFi".into()),
            Piece::Syllable("he2".into()),
            Piece::Syllable("wu3".into()),
            Piece::Latin("G".into()),
        ]
    );
}

#[test]
fn symbols_and_emoji_are_dropped() {
    assert_eq!(to_pinyin_text("好😀#@"), "hao3");
    assert_eq!(to_pinyin_text(""), "");
    assert_eq!(to_pinyin_text("。，！"), "");
}
