use super::*;

fn brief(task: &str) -> TaskBrief {
    TaskBrief::parse(task)
}

fn check(task: &str, callee: Option<&str>, principal: Option<&str>, content: &str) {
    let b = brief(task);
    assert_eq!(b.callee.as_deref(), callee, "callee of {task:?}: {b:?}");
    assert_eq!(b.principal.as_deref(), principal, "principal of {task:?}: {b:?}");
    assert_eq!(b.content, content, "content of {task:?}: {b:?}");
}

#[test]
fn notice_with_title() {
    check("通知张总明天上午9点开会", Some("张总"), None, "明天上午9点开会");
    assert_eq!(brief("通知张总明天上午9点开会").purpose, Purpose::Notify);
}

#[test]
fn reminder_to_mister() {
    check("提醒王先生周五前交材料", Some("王先生"), None, "周五前交材料");
    assert_eq!(brief("提醒王先生周五前交材料").purpose, Purpose::Remind);
}

#[test]
fn third_person_becomes_second() {
    check("告诉李女士她的快递到了", Some("李女士"), None, "您的快递到了");
    check("告诉王先生他儿子今天下午在学校发烧了", Some("王先生"), None, "您儿子今天下午在学校发烧了");
}

#[test]
fn call_then_say() {
    check("给陈老师打电话，说家长会改到下周三", Some("陈老师"), None, "家长会改到下周三");
    check("给张三打个电话，提醒他明天交房租", Some("张三"), None, "明天交房租");
    assert_eq!(brief("给张三打个电话，提醒他明天交房租").purpose, Purpose::Remind);
}

#[test]
fn let_him_becomes_please() {
    check("打电话给小王，让他明天带上合同", Some("小王"), None, "请您明天带上合同");
}

#[test]
fn nobody_named() {
    check("通知明天上午9点开会", None, None, "明天上午9点开会");
    check("明天上午9点在三楼会议室开会", None, None, "明天上午9点在三楼会议室开会");
    check("通知他明天下午两点来面试", None, None, "明天下午两点来面试");
}

#[test]
fn principal_who_asked() {
    check("王经理让我通知张总明天上午9点开会", Some("张总"), Some("王经理"), "明天上午9点开会");
    check("王经理委托我提醒刘医生下午三点会诊", Some("刘医生"), Some("王经理"), "下午三点会诊");
}

#[test]
fn principal_by_commission() {
    check("受张经理委托，提醒李女士明天下午3点到医院复查", Some("李女士"), Some("张经理"), "明天下午3点到医院复查");
    check("受公司人事部的委托，通知王建国下周一入职报到", Some("王建国"), Some("公司人事部"), "下周一入职报到");
}

#[test]
fn principal_on_behalf() {
    check("替公司行政部通知王建国明天体检", Some("王建国"), Some("公司行政部"), "明天体检");
    check("代表阳光物业通知业主王先生明天上午停水", Some("王先生"), Some("阳光物业"), "明天上午停水");
    check("帮李老师通知小张周末补课取消", Some("小张"), Some("李老师"), "周末补课取消");
}

#[test]
fn principal_introduced_by_writer() {
    check(
        "我是阳光物业的，通知业主王先生明天上午8点到12点停水",
        Some("王先生"),
        Some("阳光物业"),
        "明天上午8点到12点停水",
    );
}

#[test]
fn writer_is_not_a_principal() {
    check("帮我通知张总明天上午9点开会", Some("张总"), None, "明天上午9点开会");
    check("麻烦帮我打电话告诉老板我明天请假", Some("老板"), None, "委托人明天请假");
}

#[test]
fn full_names_before_a_time_or_verb() {
    check("通知张三明天上午来面试", Some("张三"), None, "明天上午来面试");
    check("通知王建国明天体检", Some("王建国"), None, "明天体检");
    check("提醒王五来公司签合同", Some("王五"), None, "来公司签合同");
    check("通知欧阳娜娜下午三点录音", Some("欧阳娜娜"), None, "下午三点录音");
    check("通知张明明天开会", Some("张明"), None, "明天开会");
}

#[test]
fn say_to_form() {
    check("跟张总说一声明天的会取消了", Some("张总"), None, "明天的会取消了");
    check("和刘医生讲一下，3号床的化验结果出来了", Some("刘医生"), None, "3号床的化验结果出来了");
}

#[test]
fn relay_with_colon_and_ascii_punctuation() {
    check("转告刘医生：3号床病人的检查结果出来了", Some("刘医生"), None, "3号床病人的检查结果出来了");
    check("通知张总:明天上午9:30开会,地点在3楼会议室.", Some("张总"), None, "明天上午9:30开会，地点在3楼会议室");
    check("提醒一下 张经理 , 周五下午两点的面试别忘了!", Some("张经理"), None, "周五下午两点的面试别忘了");
}

#[test]
fn safety_preamble_is_skipped() {
    let task =
        "必须遵守以下电话安全规则：\n1. 先确认对方身份。\n2. 不得索要验证码。\n\n本次任务：通知张总明天上午9点开会";
    let b = brief(task);
    assert_eq!(b.task, "通知张总明天上午9点开会");
    check(task, Some("张总"), None, "明天上午9点开会");
    check("规则：不要骗人\n本次任务:提醒王先生周五前交材料", Some("王先生"), None, "周五前交材料");
    check("任务：告诉李女士她的快递到了", Some("李女士"), None, "您的快递到了");
}

#[test]
fn task_marker_inside_the_task_is_content() {
    check("提醒张总完成任务：提交季度报告", Some("张总"), None, "完成任务：提交季度报告");
}

#[test]
fn question_tasks_ask() {
    let b = brief("问一下王先生明天下午有没有空来面试");
    assert_eq!(b.purpose, Purpose::Ask);
    assert_eq!(b.callee.as_deref(), Some("王先生"));
    assert_eq!(b.content, "明天下午有没有空来面试");
    let b = brief("跟李女士确认一下周六的体检是否照常");
    assert_eq!(b.purpose, Purpose::Ask);
    assert_eq!(b.content, "周六的体检是否照常");
}

#[test]
fn invitation() {
    let b = brief("邀请陈老师参加周五晚上的年会");
    assert_eq!(b.purpose, Purpose::Invite);
    assert_eq!(b.callee.as_deref(), Some("陈老师"));
    assert_eq!(b.content, "参加周五晚上的年会");
}

#[test]
fn name_first_then_content() {
    check("张总，明天上午9点开会", Some("张总"), None, "明天上午9点开会");
}

#[test]
fn family_and_possessors_are_no_name() {
    check("帮我告诉我妈今晚不回家吃饭", None, None, "今晚不回家吃饭");
    check("通知张总的秘书明天上午9点开会", None, None, "张总的秘书明天上午9点开会");
}

#[test]
fn bare_role_is_no_name() {
    check("通知家长明天开家长会", None, None, "明天开家长会");
    check("通知全体员工明天放假", None, None, "全体员工明天放假");
}

#[test]
fn numbers_and_places_unchanged() {
    let b = brief("提醒赵女士本月25号前缴纳物业费1,280元，地点在物业服务中心3.5号窗口");
    assert_eq!(b.content, "本月25号前缴纳物业费1,280元，地点在物业服务中心3.5号窗口");
    assert!(b.mentions_time());
}

#[test]
fn surnames_of_callees() {
    assert_eq!(brief("通知张总开会").callee_surname(), Some("张"));
    assert_eq!(brief("提醒小王交材料").callee_surname(), Some("王"));
    assert_eq!(brief("通知欧阳娜娜下午三点录音").callee_surname(), Some("欧阳"));
    assert_eq!(brief("通知明天开会").callee_surname(), None);
}

#[test]
fn time_detection() {
    assert!(brief("通知张总明天上午9点开会").mentions_time());
    assert!(!brief("告诉李女士她的快递到了").mentions_time());
}
