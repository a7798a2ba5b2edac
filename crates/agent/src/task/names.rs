//! Names as tasks write them: family names, titles and given names
//! (`张总`, `王先生`, `小王`, `王建国`, `欧阳娜娜`).

use super::text::is_punct;
use super::time::starts_with_time;

/// Two-character family names, checked before the single ones.
#[rustfmt::skip]
const DOUBLE_SURNAMES: &[&str] = &[
    "欧阳", "司马", "上官", "诸葛", "东方", "皇甫", "令狐", "慕容", "尉迟", "长孙", "宇文", "司徒", "夏侯", "公孙",
    "西门", "南宫", "端木", "独孤", "轩辕", "万俟", "呼延", "澹台",
];

/// Common family names. Characters that are mostly function words in a task
/// (和, 于, 向, 都, 来, 但, 由, 时) are left out on purpose.
const SURNAMES: &str = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘蒋蔡余杜叶程苏魏吕丁任沈姚卢姜崔钟谭陆汪范金石廖贾夏韦付傅方白邹孟熊秦邱江尹薛闫阎段雷侯龙史陶黎贺顾毛郝龚邵万钱严覃武戴莫孔汤常温康施文牛樊葛邢安齐易乔伍庞颜倪庄聂章鲁岳翟殷詹申欧耿关兰焦俞左柳甘祝包宁尚符舒阮柯纪梅童凌毕单季裴霍涂成苗谷盛曲翁冉骆蓝路游辛靳管柴蒙鲍华喻祁蒲房滕屈饶解牟艾尤阳穆农司卓古吉缪简车项连芦麦褚娄窦戚岑景党宫费卜冷晏席卫米柏宗瞿桂全佟应臧闵苟邬边卞姬师仇栾隋商刁沙荣巫寇桑郎甄丛仲虞敖巩佘池查麻苑迟邝官封谈匡鞠惠荆乐冀郁胥班储栗燕楚鄢劳谌奚皮粟冼蔺楼闻厉伊仝郜阚权帅屠朴盖练廉禹祖漆巴卿狄宣晋芮薄邸雍辜裘亓邰赫杭况宿逯隆茹诸慕嵇湛宾戎茅";

/// Titles that make a family name into a way to address someone, longest first.
#[rustfmt::skip]
const TITLES: &[&str] = &[
    "董事长", "总经理", "工程师", "副总", "先生", "女士", "小姐", "老师", "经理", "总监", "主任", "主管", "医生",
    "大夫", "护士", "律师", "会计", "老板", "师傅", "师父", "阿姨", "叔叔", "伯伯", "大爷", "大妈", "大姐", "大哥",
    "姐姐", "哥哥", "同学", "教授", "博士", "局长", "处长", "科长", "院长", "校长", "所长", "厂长", "部长", "队长",
    "组长", "班长", "站长", "行长", "店长", "社长", "村长", "镇长", "县长", "市长", "书记", "警官", "老总", "总", "董",
    "工", "姐", "哥", "叔", "姨", "导",
];

/// Characters that end a given name: a verb, a particle or a pronoun right
/// after the name (`通知王五来开会`).
const NAME_ENDERS: &str = "的他她您你说讲来去到把在要带交给开打回过别不再改请该能已有和跟让叫前后于将会是都也还就";

/// Words that end a given name: times, adverbs and verbs written after it.
const NAME_ENDING_WORDS: &[&str] =
    &["一下", "一声", "准时", "记得", "按时", "参加", "务必", "尽快", "马上", "及时", "提前", "抓紧", "关于", "明确"];

/// The family name at the start of `s` (two-character ones first), and
/// the rest.
pub(crate) fn surname(s: &str) -> Option<(&str, &str)> {
    if let Some(d) = DOUBLE_SURNAMES.iter().find(|d| s.starts_with(**d)) {
        return Some((&s[..d.len()], &s[d.len()..]));
    }
    let c = s.chars().next()?;
    SURNAMES.contains(c).then(|| s.split_at(c.len_utf8()))
}

fn title_prefix(s: &str) -> Option<(&str, &str)> {
    TITLES.iter().find(|t| s.starts_with(**t)).map(|t| s.split_at(t.len()))
}

fn is_han(c: char) -> bool {
    ('\u{4e00}'..='\u{9fff}').contains(&c)
}

/// The first `n` characters of `s` as a possible given name, and the rest.
fn given_name(s: &str, n: usize) -> Option<(&str, &str)> {
    let end = s.char_indices().nth(n).map_or(s.len(), |(i, _)| i);
    let given = &s[..end];
    let ok = given.chars().count() == n
        && given.chars().all(|c| is_han(c) && !NAME_ENDERS.contains(c))
        && !starts_with_time(s);
    ok.then(|| s.split_at(end))
}

fn ends_name(rest: &str) -> bool {
    match rest.chars().next() {
        None => true,
        Some(c) => {
            is_punct(c)
                || c.is_ascii_digit()
                || NAME_ENDERS.contains(c)
                || starts_with_time(rest)
                || NAME_ENDING_WORDS.iter().any(|w| rest.starts_with(w))
        }
    }
}

/// A way to address someone at the start of `s` (`张总`, `王先生`, `小王`,
/// `王建国`, `张三老师`, `欧阳娜娜`) and the rest.
pub(super) fn parse_name(s: &str) -> Option<(String, &str)> {
    if starts_with_time(s) || title_prefix(s).is_some() {
        return None;
    }
    for pre in ["小", "老"] {
        if let Some(rest) = s.strip_prefix(pre) {
            if let Some((sn, rest)) = surname(rest) {
                return Some((format!("{pre}{sn}"), rest));
            }
        }
    }
    let (sn, rest) = surname(s)?;
    if let Some((title, rest)) = title_prefix(rest) {
        return Some((format!("{sn}{title}"), rest));
    }
    for n in [2, 1] {
        if let Some((given, after)) = given_name(rest, n) {
            // One-character titles after a given name read words as names (全体员工).
            if let Some((title, after)) = title_prefix(after).filter(|(t, _)| t.chars().count() > 1) {
                return Some((format!("{sn}{given}{title}"), after));
            }
        }
    }
    for n in [2, 1] {
        if let Some((given, after)) = given_name(rest, n) {
            if ends_name(after) {
                return Some((format!("{sn}{given}"), after));
            }
        }
    }
    None
}
