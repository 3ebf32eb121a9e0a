"""The workbench's words in Chinese (the interface language) and English.

Wording speaks of risk and of advice, never of certainty: a band is "高风险", not "将会转刑".
Team names come from ``domain.yaml``; everything else the pages say is listed here, so a
missing translation is a ``KeyError`` in the tests rather than a blank on the page.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from triage.config.domain import Bilingual
from triage.features import feature_labels

LANGS = ("zh", "en")
LANG_COOKIE = "triage_lang"

MESSAGES: dict[str, tuple[str, str]] = {
    "app_title": ("矛盾纠纷风险研判工作台", "Dispute risk workbench"),
    "nav_queue": ("研判队列", "Review queue"),
    "nav_models": ("模型", "Models"),
    "nav_overrides": ("改派分析", "Overrides"),
    "sign_out": ("退出", "Sign out"),
    "sign_in": ("登录", "Sign in"),
    "sign_in_title": ("分析员登录", "Analyst sign-in"),
    "sign_in_help": (
        "请输入分析员或管理员 API 密钥。密钥只用于本次登录核验，不会出现在网址中。",
        "Enter an analyst or admin API key. It is checked once at sign-in and never appears in a URL.",
    ),
    "api_key": ("API 密钥", "API key"),
    "key_invalid": ("密钥无效或已被吊销。", "The key is not valid or has been revoked."),
    "too_many_failures": (
        "登录失败次数过多，请稍后再试。",
        "Too many failed sign-ins; try again later.",
    ),
    "key_scorer": (
        "评分密钥（scorer）只能调用评分接口，不能登录工作台：请使用分析员或管理员密钥。",
        "A scorer key may only call the scoring API, not sign in to the workbench: "
        "use an analyst or admin key.",
    ),
    "signed_in_as": ("当前密钥", "Signed in with key"),
    "advice": (
        "评分是辅助研判的风险估计，不是结论；请结合实际情况判断。",
        "A score is a risk estimate to support judgement, not a verdict; weigh it with what you know.",
    ),
    "filters": ("筛选", "Filters"),
    "band": ("风险等级", "Risk band"),
    "team": ("分派单位", "Team"),
    "dispute_type": ("纠纷类型", "Dispute type"),
    "reviewed": ("研判状态", "Review status"),
    "reviewed_yes": ("已研判", "Reviewed"),
    "reviewed_no": ("待研判", "Not reviewed"),
    "any": ("全部", "Any"),
    "scored_from": ("评分日期自", "Scored from"),
    "scored_to": ("至", "to"),
    "apply": ("应用筛选", "Apply"),
    "clear": ("清除", "Clear"),
    "total": ("共 {n} 件", "{n} cases"),
    "page_of": ("第 {page} / {pages} 页", "Page {page} of {pages}"),
    "previous": ("上一页", "Previous"),
    "next": ("下一页", "Next"),
    "empty_queue": ("没有符合条件的案件。", "No cases match these filters."),
    "case": ("案件", "Case"),
    "probability": ("估计转刑风险", "Estimated escalation risk"),
    "scored_at": ("评分时间", "Scored"),
    "deadline": ("响应时限", "Respond within"),
    "elapsed": ("已过", "Elapsed"),
    "minutes": ("{n} 分钟", "{n} min"),
    "hours": ("{n} 小时", "{n} h"),
    "days": ("{n} 天", "{n} days"),
    "overdue": ("已超时", "Overdue"),
    "due_soon": ("即将到期", "Due soon"),
    "on_time": ("时限内", "In time"),
    "done": ("已研判", "Reviewed"),
    "route": ("建议分派", "Suggested route"),
    "verdict_agree": ("同意", "Agreed"),
    "verdict_override": ("改派", "Overridden"),
    "open_case": ("查看", "Open"),
    "case_view": ("案件研判", "Case review"),
    "back_to_queue": ("返回队列", "Back to queue"),
    "case_facts": ("案件信息", "The case"),
    "no_pii": (
        "不显示个人身份信息（姓名、身份证号、电话）。",
        "No personal identifiers (names, ID numbers, phones) are shown.",
    ),
    "opened_at": ("立案时间", "Opened"),
    "household": ("本户", "Household"),
    "counterparty": ("对方户", "Counterparty household"),
    "source": ("来源", "Source"),
    "amount": ("争议金额（元）", "Amount (CNY)"),
    "parties": ("当事方人数", "Parties"),
    "description": ("情况描述", "Description"),
    "as_of": ("评分所依据的时点", "History as of"),
    "risk_band_note": (
        "校准后的概率：在相似案件中，约有这一比例在 {days} 天内发生刑事案件。",
        "Calibrated probability: about this share of similar cases saw a criminal offence "
        "within {days} days.",
    ),
    "factors_title": ("影响风险估计的主要因素", "What moves the risk estimate"),
    "factors_help": (
        "从一般案件的风险估计起，每一行是该因素使本案风险估计升高（红）或降低（蓝）的百分点，"
        "逐项累加得到本案的风险估计。未逐项列出的因素按类别合并。",
        "Starting from a typical case's risk, each row shows by how many percentage points a factor "
        "raises (red) or lowers (blue) this case's estimate; added up they give this case's risk. "
        "Factors not listed one by one are grouped by theme.",
    ),
    "baseline": ("一般案件", "Typical case"),
    "this_case": ("本案", "This case"),
    "points": ("{n} 个百分点", "{n} points"),
    "other_factors_theme": ("其余{theme}因素（{n} 项）", "Other factors: {theme} ({n})"),
    "persons": ("当事人心理风险分级", "Persons' tiers"),
    "person": ("人员编号", "Person"),
    "tier": ("分级", "Tier"),
    "tier_source": ("依据", "Source"),
    "tier_probabilities": ("模型估计概率", "Model probabilities"),
    "no_persons": ("本次评分未指定当事人。", "No persons were named for this score."),
    "reasons": ("分派理由", "Reasons"),
    "priority": ("紧急程度", "Priority"),
    "models": ("模型版本", "Model versions"),
    "warnings_title": ("请以自身判断为主", "Lean on your own judgement"),
    "warnings_help": (
        "本案与模型学习过的案件不同，或记录很少：下面的风险估计依据有限，可能偏高也可能偏低。"
        "请结合走访、当事人情况和工作经验研判。",
        "This case is unlike the cases the model learnt from, or its records are thin: the risk "
        "estimate rests on little and may be too high or too low. Weigh it with the visit, the "
        "parties and your experience.",
    ),
    "warning_population": ("超出模型训练范围", "Unlike the training cases"),
    "warning_no_history": ("该户没有任何既往记录", "No recorded history for the household"),
    "warning_unknown_household": ("系统中没有该户的记录", "Household unknown to the service"),
    "warning_unknown_counterparty": (
        "系统中没有对方户的记录",
        "Counterparty household unknown to the service",
    ),
    "warning_unknown_person": ("系统中没有该人员的记录", "Person unknown to the service"),
    "warning_other": ("提示", "Note"),
    "estimate_weak": (
        "此估计依据有限，见上方提示。",
        "This estimate rests on little: see the warnings above.",
    ),
    "warnings_chip": ("依据有限", "weak estimate"),
    "capacity_title": ("各单位今日到期案件与处理能力", "Cases due today by team, against capacity"),
    "capacity_help": (
        "今日到期（含已超时）、尚未研判的案件，对比各单位每日处理能力。案件先按紧急程度"
        "（含不看评分、由规则直接分派的情形）、再按风险估计从高到低排列；超出能力的是排在最后、"
        "风险估计最低的案件，极高风险案件不会被大量预警淹没。",
        "Open cases due by the end of today (overdue included) against each team's daily capacity. "
        "Cases are ranked by priority (rules that route a case whatever the score says included), "
        "then by estimated risk; those beyond capacity are the lowest-ranked, so a flood of alerts "
        "does not bury the critical ones.",
    ),
    "due_today": ("今日到期", "Due today"),
    "due_today_only": ("只看今日到期未研判", "Due today and open only"),
    "capacity": ("每日能力", "Capacity / day"),
    "over_capacity": ("超出能力", "Over capacity"),
    "nothing_due_today": ("今天没有到期未研判的案件。", "No open cases are due today."),
    "beyond_capacity": ("超出今日能力", "Beyond today's capacity"),
    "history": ("既往记录（截至评分时点）", "History (as of the score)"),
    "no_history": ("评分时点之前没有记录。", "No records before the score."),
    "history_more": ("仅显示最近 {n} 条。", "Only the latest {n} are shown."),
    "reviews": ("研判记录", "Reviews"),
    "no_reviews": ("尚未研判。", "Not reviewed yet."),
    "review_title": ("研判", "Review"),
    "agree": ("同意建议分派", "Agree with the route"),
    "override": ("改派（须填写说明）", "Override the teams (note required)"),
    "override_teams": ("改派给", "Route to"),
    "override_priority": ("紧急程度（改派时）", "Priority (override)"),
    "keep_priority": ("保持建议：{priority}", "As suggested: {priority}"),
    "note": ("说明", "Note"),
    "note_placeholder": (
        "改派必须说明理由，例如：已掌握的新情况。",
        "Why — required for an override.",
    ),
    "submit_review": ("提交研判", "Submit review"),
    "review_saved": ("研判已保存。", "Review saved."),
    "note_required": ("改派必须填写说明。", "An override needs a note."),
    "teams_required": ("改派至少选择一个单位。", "Choose at least one team for an override."),
    "review_invalid": ("研判内容无效：{detail}", "The review is not valid: {detail}"),
    "reviewer": ("研判人密钥", "Reviewer key"),
    "review_pending_saved": (
        "改派已提交：它取消了规则要求的单位或紧急程度，须由另一位分析员确认后才生效；在此之前仍按原建议分派处置。",
        "Override submitted: it drops a team or priority a rule requires, so it takes effect only "
        "once another analyst confirms it; until then the suggested route stands.",
    ),
    "review_confirmed": (
        "已确认改派：现按改派后的单位处置。",
        "Override confirmed: staff now act on the new route.",
    ),
    "review_rejected": (
        "已驳回改派：原建议分派继续有效。",
        "Override rejected: the suggested route stands.",
    ),
    "visit_saved": ("回访已记录。", "Visit recorded."),
    "reject_note_required": ("驳回须填写说明。", "A rejection needs a note."),
    "same_analyst": (
        "四眼原则：改派须由另一位分析员确认或驳回。",
        "Four eyes: another analyst must confirm or reject this override.",
    ),
    "visit_note_required": ("回访须填写情况说明。", "A visit needs a note of what it found."),
    "visit_outcome_required": ("请选择回访结果。", "Choose the visit's outcome."),
    "record_disputes": ("记录异议", "Disputed records"),
    "record_disputes_help": (
        "当事人或工作人员认为某条记录有误（例如警情关联错了户、来电说的是另一家）时在此登记。"
        "记录不会被删除；认定有误后，评分不再计入该记录，涉及的未结案件重新评分。",
        "When a person or a caseworker says a record is wrong (a police record linked to the "
        "wrong household, a call about another family), register it here. The record is never "
        "deleted; once it is found wrong, scores leave it out and the open cases it touched are "
        "re-scored.",
    ),
    "dispute_record": ("有异议的记录", "Record disputed"),
    "dispute_reason": ("异议理由", "Reason"),
    "dispute_note": ("说明（谁提出、为什么）", "Note: who raised it and why"),
    "submit_dispute": ("登记异议", "Register the dispute"),
    "dispute_saved": ("异议已登记，待核实。", "Dispute registered; it waits for a decision."),
    "dispute_found_wrong": (
        "已认定记录有误：评分不再计入该记录，涉及的未结案件已重新评分。",
        "Record found wrong: scores leave it out, and the open cases it touched were re-scored.",
    ),
    "dispute_upheld": ("已维持该记录。", "The record stands."),
    "dispute_record_required": ("请选择有异议的记录。", "Choose the record disputed."),
    "dispute_reason_required": ("请选择异议理由。", "Choose a reason."),
    "dispute_note_required": (
        "异议须说明谁提出、为什么。",
        "A dispute needs a note of who raised it and why.",
    ),
    "dispute_exists": (
        "该记录已有待核实或已认定有误的异议。",
        "This record already has a dispute that is open or found it wrong.",
    ),
    "dispute_invalid": ("异议内容无效。", "The dispute is not valid."),
    "dispute_decided": ("该异议已处理。", "This dispute was decided already."),
    "mark_found_wrong": ("认定有误", "Found wrong"),
    "mark_upheld": ("维持记录", "Uphold the record"),
    "decision_note": ("核实说明（可不填）", "How it was checked (optional)"),
    "registered_by": ("登记人密钥", "Registered by key"),
    "decided_by": ("处理人密钥", "Decided by key"),
    "no_disputes": ("暂无记录异议。", "No disputed records."),
    "choose": ("请选择", "Choose"),
    "four_eyes_hint": (
        "可以自由增加单位或提高紧急程度；取消规则要求的单位或降低其紧急程度，须由另一位分析员确认（四眼原则）。",
        "You may add teams or raise the priority freely; dropping a team or lowering a priority "
        "that a rule requires needs another analyst's confirmation (four eyes).",
    ),
    "required_by_rule": ("规则要求", "required by a rule"),
    "effective_route": ("现行分派（已改派）", "Route in effect (overridden)"),
    "proposed_by": ("提出人密钥", "Proposed by key"),
    "settled_by": ("复核人密钥", "Second analyst key"),
    "waiting_for_other": (
        "这是您提出的改派，须由另一位分析员确认；在此之前仍按原建议分派处置。",
        "You proposed this override: it needs another analyst's confirmation. Until then the "
        "suggested route stands.",
    ),
    "settle_help": (
        "另一位分析员提出了改派，取消了规则要求的内容。请核实后确认或驳回。",
        "Another analyst proposed this override, which drops what a rule requires. Check it, then "
        "confirm or reject it.",
    ),
    "confirm": ("确认改派", "Confirm override"),
    "reject": ("驳回", "Reject"),
    "settle_note_placeholder": ("复核意见（驳回时必填）", "Your note (required to reject)"),
    "pending_chip": ("待第二人复核", "awaiting a second analyst"),
    "case_timeline": ("本案研判时间线", "Decision timeline of the case"),
    "timeline_help": (
        "本案每一次评分（含新情况出现后的重新评分）、研判和回访，按时间先后排列。",
        "Every score of this case (re-scores after new events included), every review and every "
        "follow-up visit, oldest first.",
    ),
    "this_decision": ("当前查看", "This decision"),
    "values_removed": (
        "本决定的原始敏感值（警情、测评、评估与人员登记的数值，案情描述）已于 {at} 按保留期限删除；"
        "风险等级、路由、理由与各因素的贡献保留不变。",
        "This decision's raw sensitive values (police, screening, assessment and person-register values, "
        "the case description) were removed on {at} under the retention policy; its band, route, "
        "reasons and each factor's contribution are kept.",
    ),
    "value_removed": ("已删除", "removed"),
    "newer_decision": (
        "本案已有更新的评分，本页显示的是较早的一次。",
        "This case has a newer score; this page shows an earlier one.",
    ),
    "open_latest": ("查看最新评分", "Open the latest score"),
    "band_rise": ("风险等级上升", "Band rose"),
    "needs_judgement": ("需人工研判", "Needs judgement"),
    "needs_judgement_help": (
        "模型在此把握不足：风险概率的区间跨越两个风险等级，或当事人的心理等级有不止一种可能。请结合案情研判。",
        "The model cannot tell here: the interval of the probability reaches another band, or a "
        "person's tier could be more than one. Weigh the case yourself.",
    ),
    "interval": (
        "概率区间（依据以往同类案件）：{low} – {high}",
        "Interval of the probability (from earlier cases like it): {low} – {high}",
    ),
    "tier_set": ("可能的等级(90%)", "Possible tiers (90%)"),
    "tier_set_empty": ("无法判断", "none fits"),
    "band_rise_only": ("只看风险等级上升", "Band rose only"),
    "band_rise_help": (
        "新情况出现后重新评分，风险等级比上一次评分高。变化如下：",
        "Re-scored after something new arrived, into a higher band than the previous score. What changed:",
    ),
    "previous_score": ("上一次评分", "Previous score"),
    "followups_title": ("回访", "Follow-up visits"),
    "no_followups": (
        "本案没有回访安排（调解达成协议后自动安排）。",
        "No follow-up visits (they are planned once the case is mediated to an agreement).",
    ),
    "followup_kind": ("{n} 天回访", "{n}-day visit"),
    "due_at": ("应回访日期", "Due"),
    "done_at": ("回访时间", "Visited"),
    "visit_outcome": ("回访结果", "Outcome"),
    "visit_note": ("情况说明", "What the visit found"),
    "visit_rescore": (
        "按回访情况重新评分（出现新的风险迹象时总会重新评分）",
        "Re-score the case as of this visit (always done for signs of renewed risk)",
    ),
    "record_visit": ("记录回访", "Record the visit"),
    "rescored_as": ("回访后重新评分", "Re-scored after the visit"),
    "missed_chip": ("回访逾期 {n} 次", "{n} missed visit(s)"),
    "superseded_chip": ("已有更新评分", "newer score exists"),
    "not_found": ("没有这个评分记录。", "There is no such score."),
    "models_title": ("当前使用的模型", "Champion models in use"),
    "monitoring": ("监测状态", "Monitoring status"),
    "monitoring_none": (
        "尚未运行监测（triage monitor 命令）。",
        "Monitoring (the triage monitor command) has not been run yet.",
    ),
    "monitoring_unavailable": (
        "无法读取监测结果：{detail}",
        "Monitoring results unavailable: {detail}",
    ),
    "fairness": ("公平性审计（冠军模型训练时）", "Fairness audit (at the champion's training)"),
    "fairness_none": ("没有公平性审计记录。", "No fairness audit recorded."),
    "attribute": ("分组维度", "Attribute"),
    "group": ("组别", "Group"),
    "cases_n": ("案件数", "Cases"),
    "selection_rate": ("高/极高风险比例", "Share high/critical"),
    "tpr": ("真阳性率", "True-positive rate"),
    "fpr": ("假阳性率", "False-positive rate"),
    "calibration": ("校准偏差", "Calibration gap"),
    "loaded_at": ("加载时间", "Loaded"),
    "metrics": ("评估指标", "Evaluation metrics"),
    "model_card": (
        "模型卡(用途、数据、样本外表现、分组误差与局限)",
        "Model card (use, data, out-of-time figures, errors by group, limits)",
    ),
    "metric": ("指标", "Metric"),
    "value": ("值", "Value"),
    "plots": ("评估图", "Evaluation plots"),
    "plots_unavailable": (
        "无法从 MLflow 读取评估图：{detail}",
        "The evaluation plots could not be read from MLflow: {detail}",
    ),
    "no_plots": ("该版本没有记录评估图。", "This version has no evaluation plots."),
    "mlflow_ui": ("在 MLflow 中查看全部运行记录", "Open the MLflow UI for every run"),
    "no_models": ("尚未加载模型：{detail}", "No models are loaded: {detail}"),
    "role_escalation": ("转刑风险模型", "Escalation model"),
    "role_tier": ("心理分级模型", "Tier model"),
    "challenger_link": ("挑战者模型（影子评分）", "Challenger model (shadow scoring)"),
    "challenger_title": ("挑战者模型", "Challenger model"),
    "challenger_help": (
        "挑战者模型对每个案件同时评分，结果单独保存，从不改变分派。此处比较它与当前模型在同一批实际案件上的风险等级与分派，"
        "以及结局已知案件上的区分度（AUC）与校准误差（ECE）；转为当前模型须先通过晋升门槛。",
        "The challenger scores every case too; its results are stored apart and never change a route. "
        "This page compares its bands and routes with the champion's on the same live cases, and both "
        "models' AUC and calibration error (ECE) once outcomes are known; it becomes champion only "
        "through the promotion gates.",
    ),
    "no_challenger": (
        "当前没有挑战者模型：给以 --promote never 训练的版本加上 challenger 别名后重新加载模型。",
        "There is no challenger: give a version trained with --promote never the alias "
        "challenger, then reload the models.",
    ),
    "challenger_versions": ("挑战者版本", "Challenger versions"),
    "shadow_cases": ("两个模型都评分的案件：{n} 件", "Cases scored by both models: {n}"),
    "shadow_agreement": (
        "风险等级一致：{bands}；分派一致：{routes}",
        "Same band: {bands}; same route: {routes}",
    ),
    "shadow_bands": ("风险等级对照", "Bands compared"),
    "champion_band": ("当前模型", "Champion"),
    "challenger_band": ("挑战者", "Challenger"),
    "champion": ("当前模型", "Champion"),
    "challenger": ("挑战者", "Challenger"),
    "shadow_movers": ("挑战者模型下结果不同的案件（{n} 件）", "Cases that would move ({n})"),
    "no_movers": ("没有案件的等级或分派会改变。", "No case would change band or route."),
    "probability_change": ("概率变化", "Probability change"),
    "shadow_outcomes": ("结局已知的案件", "Cases with known outcomes"),
    "shadow_labelled": (
        "结局已知（立案 {horizon} 天后）：{n} 件，其中 {escalated} 件转为刑事案件",
        "Outcome known ({horizon} days after opening): {n} cases, {escalated} escalated",
    ),
    "shadow_too_few": (
        "转刑与未转刑案件各少于 {n} 件，暂不计算 AUC 与 ECE。",
        "Fewer than {n} escalated or non-escalated cases: AUC and ECE are not computed yet.",
    ),
    "promotion_gates": ("晋升门槛", "Promotion gates"),
    "promotion_refused": (
        "目前不能晋升为当前模型：",
        "It may not be promoted yet:",
    ),
    "promotion_passes": (
        "已通过晋升门槛：可用 triage promote-challenger 晋升。",
        "It passes the promotion gates: triage promote-challenger can promote it.",
    ),
    "overrides_title": ("研判与改派分析", "Reviews and overrides"),
    "overrides_help": (
        "分析员对建议分派的同意与改派情况。同意比例过高（西班牙 VioGén 系统中警员约 95% 维持了系统的自动评级）"
        "说明建议可能未经逐案核实就被接受（自动化偏差）；改派几乎全部朝同一方向，说明建议分派可能系统性偏高或偏低。",
        "How analysts agree with or override the suggested routes. Agreement that is too high (officers "
        "kept the automatic level of Spain's VioGén system in about 95 % of cases) suggests routes are "
        "accepted without being checked case by case (automation bias); overrides that nearly all go one "
        "way suggest the routes are systematically too high or too low.",
    ),
    "override_alerts": ("警报", "Alerts"),
    "no_override_alerts": ("近 {days} 天没有警报。", "No alerts in the last {days} days."),
    "who_all": ("全体分析员", "All analysts"),
    "who_analyst": ("分析员（密钥 {analyst}）", "Analyst with key {analyst}"),
    "alert_automation_bias": (
        "{who}近 {days} 天的 {n} 次研判中，{share} 同意建议分派，高于 {threshold}："
        "请抽查这些研判是否逐案核实（自动化偏差）。",
        "{who}: {share} of {n} reviews over the last {days} days agreed with the suggested route, "
        "above {threshold}. Check that these reviews weigh each case (automation bias).",
    ),
    "alert_one_way_raise": (
        "{who}近 {days} 天的 {n} 次改派中，{share} 提高了分派（增加单位或提高紧急程度）："
        "建议分派可能系统性偏低，请复核分派规则和风险等级。",
        "{who}: {share} of {n} overrides over the last {days} days raised the route (teams added or "
        "priority raised). The suggested routes may be too low; review the routing rules and bands.",
    ),
    "alert_one_way_lower": (
        "{who}近 {days} 天的 {n} 次改派中，{share} 降低了分派（减少单位或降低紧急程度）："
        "建议分派可能系统性偏高，请复核分派规则和风险等级。",
        "{who}: {share} of {n} overrides over the last {days} days lowered the route (teams dropped or "
        "priority lowered). The suggested routes may be too high; review the routing rules and bands.",
    ),
    "window_figures": (
        "近 {days} 天（{start} 至 {end}）：{n} 次研判，同意比例 {share}。",
        "Last {days} days ({start} to {end}): {n} reviews, {share} agreed.",
    ),
    "thresholds_note": (
        "阈值（domain.yaml）：至少 {min_reviews} 次研判且同意比例高于 {max_agreement} 时报警；"
        "至少 {min_overrides} 次改派且其中 {one_way} 及以上同一方向时报警。"
        "同意包括改派后单位和紧急程度均未变化的情形；待复核和已驳回的改派也计为改派。",
        "Thresholds (domain.yaml): an alert when agreement is above {max_agreement} over at least "
        "{min_reviews} reviews, or when {one_way} or more of at least {min_overrides} overrides go one "
        "way. An override that changes neither teams nor priority counts as agreement; pending and "
        "rejected overrides count as overrides.",
    ),
    "no_reviews_yet": ("尚无研判记录。", "No reviews yet."),
    "all_reviews": ("全部研判", "All reviews"),
    "by_analyst": ("按分析员", "By analyst"),
    "by_team": ("按建议分派的单位", "By team in the suggested route"),
    "by_band": ("按风险等级", "By risk band"),
    "by_month": ("按月份", "By month"),
    "analyst_key": ("分析员密钥", "Analyst key"),
    "month": ("月份", "Month"),
    "reviews_n": ("研判次数", "Reviews"),
    "agreement": ("同意比例", "Agreed"),
    "raised": ("提高", "Raised"),
    "lowered": ("降低", "Lowered"),
    "mixed": ("有增有减", "Mixed"),
    "added": ("改派增加", "Added by overrides"),
    "dropped": ("改派取消", "Dropped by overrides"),
    "outcomes_title": ("改派方向是否被事后结果印证", "Did the overrides' direction prove right?"),
    "outcomes_help": (
        "只统计已有结果的案件（立案已满 {days} 天，数据截至 {end}）：提高分派而 {days} 天内发生了暴力刑事案件，"
        "或降低分派而没有发生，即为印证。提高分派后加强处置、因而没有发生案件的，这里显示为未印证，"
        "所以提高分派的印证比例是下限。",
        "Only cases whose outcome is known ({days} days since opening have passed; the data end on "
        "{end}): a raised route proved right when a violent offence followed within {days} days, a "
        "lowered one when none did. A raise whose extra care prevented the offence shows here as not "
        "proved right, so the share for raises is a floor.",
    ),
    "no_data_yet": ("尚无数据", "no data yet"),
    "direction": ("改派方向", "Direction"),
    "overrides_n": ("改派次数", "Overrides"),
    "labelled": ("已有结果", "Outcome known"),
    "escalated_n": ("发生暴力刑事案件", "Violent offence followed"),
    "proved_right": ("方向被印证", "Proved right"),
    "share_right": ("印证比例", "Share proved right"),
    "unknown": ("未知", "Unknown"),
    "yes": ("是", "Yes"),
    "no": ("否", "No"),
    "list_sep": ("、", ", "),
    "colon": ("：", ": "),
    "aside": ("（{text}）", " ({text})"),
    "metric_folds": ("各回测期最低—最高", "Lowest–highest over the backtest periods"),
    "language": ("English", "中文"),
}

VOCABULARY: dict[str, dict[str, tuple[str, str]]] = {
    "band": {
        "low": ("低风险", "low risk"),
        "medium": ("中风险", "medium risk"),
        "high": ("高风险", "high risk"),
        "critical": ("极高风险", "critical risk"),
    },
    "priority": {
        "low": ("一般", "routine"),
        "medium": ("较急", "soon"),
        "high": ("紧急", "urgent"),
        "critical": ("特急", "immediate"),
    },
    "tier": {"green": ("绿", "green"), "yellow": ("黄", "yellow"), "red": ("红", "red")},
    "tier_source": {
        "rule": ("近 90 天量表（规则）", "screening ≤ 90 days (rule)"),
        "model": ("模型估计", "model estimate"),
    },
    "dispute_type": {
        "marriage_family": ("婚姻家庭", "marriage & family"),
        "neighbor": ("邻里", "neighbours"),
        "wage_arrears": ("劳资欠薪", "wage arrears"),
        "property_management": ("物业", "property management"),
        "land_transfer": ("土地流转", "land transfer"),
        "medical": ("医疗", "medical"),
        "traffic_accident": ("交通事故", "traffic accident"),
        "construction": ("建设工程", "construction"),
        "commercial": ("商事", "commercial"),
        "other": ("其他", "other"),
        "public_order": ("治安", "public order"),
    },
    "source": {
        "grid_patrol": ("网格巡查", "grid patrol"),
        "hotline": ("热线", "hotline"),
        "walk_in": ("来访", "walk-in"),
        "police_referral": ("公安移送", "police referral"),
        "court_referral": ("法院委派", "court referral"),
        "other_agency": ("其他部门", "other agency"),
    },
    "channel": {
        "12345": ("12345 热线", "12345 hotline"),
        "110": ("110 报警", "110 police"),
        "12338": ("12338 妇女维权", "12338 women's line"),
        "12348": ("12348 法律服务", "12348 legal aid"),
        "grid_report": ("网格上报", "grid report"),
    },
    "level": {
        "village": ("村级", "village"),
        "township": ("乡镇", "township"),
        "county": ("县级", "county"),
        "court": ("法院", "court"),
    },
    "outcome": {
        "agreement": ("达成协议", "agreement"),
        "no_agreement": ("未达成协议", "no agreement"),
        "party_absent": ("当事人缺席", "party absent"),
        "referred": ("移交", "referred"),
    },
    "offence": {
        "threat": ("威胁", "threat"),
        "assault": ("殴打", "assault"),
        "intentional_injury": ("故意伤害", "intentional injury"),
        "attempted_homicide": ("杀人未遂", "attempted homicide"),
        "homicide": ("杀人", "homicide"),
        "arson": ("放火", "arson"),
        "property_damage": ("毁坏财物", "property damage"),
        "other": ("其他", "other"),
    },
    "area_type": {"urban": ("城镇", "urban"), "rural": ("农村", "rural")},
    "factor_theme": {
        "this_case": ("本案情况", "this case"),
        "calls": ("来电", "calls"),
        "police": ("警情", "police records"),
        "mediation": ("调解与既往纠纷", "mediation and earlier disputes"),
        "persons": ("人员与家庭", "persons and households"),
        "other": ("其他", "other"),
    },
    "role": {
        "analyst": ("分析员", "Analyst"),
        "admin": ("管理员", "Administrator"),
        "scorer": ("评分", "Scorer"),
    },
    "metric": {
        "roc_auc": ("区分能力（ROC 曲线下面积）", "Discrimination (area under the ROC curve)"),
        "average_precision": ("平均精确率", "Average precision"),
        "base_rate": ("实际转刑比例", "Observed escalation rate"),
        "positives": ("转刑案件数", "Escalated cases"),
        "rows": ("评估样本数", "Cases evaluated"),
        "brier": ("Brier 分数（越低越好）", "Brier score (lower is better)"),
        "ece": ("校准误差", "Calibration error"),
        "ece_noise_floor": (
            "仅由抽样波动造成的校准误差",
            "Calibration error expected from chance alone",
        ),
        "recall_top5": (
            "风险最高 5% 案件覆盖的转刑比例",
            "Share of escalations among the riskiest 5%",
        ),
        "precision_top5": ("风险最高 5% 案件中的转刑比例", "Escalation rate of the riskiest 5%"),
        "recall_top10": (
            "风险最高 10% 案件覆盖的转刑比例",
            "Share of escalations among the riskiest 10%",
        ),
        "precision_top10": ("风险最高 10% 案件中的转刑比例", "Escalation rate of the riskiest 10%"),
        "override_agreement": (
            "与分析员改派意见一致的比例",
            "Agreement with the analysts' overrides",
        ),
        "macro_f1": ("三级平均 F1", "F1 averaged over the three tiers"),
        "qwk": ("分级一致性（加权 Kappa）", "Agreement on the order of tiers (weighted kappa)"),
        "red_recall": ("红色人员检出比例", "Share of reds found"),
        "green_precision": (
            "判为绿色者确为绿色的比例",
            "Share of those decided green who are green",
        ),
        "accuracy": ("分级完全一致的比例", "Share with the right tier"),
        "coverage": ("规则适用的比例", "Share the rule applies to"),
    },
    "metric_source": {
        "model": ("模型", "Model"),
        "served": ("实际采用（规则优先）", "As served (rule first)"),
        "rule": ("规则", "Rule"),
        "model_where_rule": ("规则适用处的模型", "Model where the rule applies"),
        "checklist": ("清单打分", "Checklist"),
        "oracle": ("模拟城市的真实概率", "The simulated city's own odds"),
    },
    "fairness_attribute": {
        "ethnicity": ("民族", "Ethnicity"),
        "sex": ("性别", "Sex"),
        "area_type": ("城乡", "Urban or rural"),
        "district": ("区县", "District"),
    },
    "fairness_group": {
        "han": ("汉族", "Han"),
        "minority": ("少数民族", "Minority"),
        "unrecorded": ("未登记", "Not recorded"),
        "female": ("女", "Female"),
        "male": ("男", "Male"),
        "urban": ("城镇", "Urban"),
        "rural": ("农村", "Rural"),
        "gap": ("组间最大差距", "Largest gap between groups"),
    },
    "plot": {
        "calibration_curve.png": ("校准曲线", "Calibration"),
        "lift_chart.png": ("提升曲线", "Lift"),
        "shap_summary.png": ("各因素影响概览（SHAP）", "Factors at a glance (SHAP)"),
        "confusion_matrix.png": ("实际分级与判定分级", "Assessed against decided tiers"),
    },
    "monitor_status": {
        "ok": ("正常", "OK"),
        "warn": ("注意", "Warning"),
        "alert": ("警报", "Alert"),
    },
    "monitor_check": {
        "unseen_categories": ("出现训练时没有的类别", "Categories unseen in training"),
        "feature_drift": ("因素分布漂移", "Factors drifted"),
        "population": ("人群构成变化", "Population mix shifted"),
        "score_drift": ("评分分布漂移", "Scores drifted"),
        "data_quality": ("数据质量下降", "Data quality fell"),
        "performance": ("区分能力下降", "Discrimination fell"),
        "calibration": ("校准偏差", "Calibration gap"),
        "fairness": ("公平性", "Fairness"),
    },
    "review_status": {
        "final": ("已生效", "in effect"),
        "pending": ("待第二人确认", "waiting for a second analyst"),
        "confirmed": ("已确认", "confirmed"),
        "rejected": ("已驳回", "rejected"),
    },
    "direction": {
        "raise": ("提高分派", "Raised"),
        "lower": ("降低分派", "Lowered"),
    },
    "followup_state": {
        "upcoming": ("未到期", "upcoming"),
        "due": ("待回访", "due"),
        "missed": ("已逾期", "missed"),
        "done": ("已完成", "done"),
    },
    "trigger": {
        "request": ("评分请求", "score request"),
        "followup": ("回访后重新评分", "re-scored after a visit"),
        "event:hotline_calls": ("新来电后重新评分", "re-scored after a new call"),
        "event:incidents": ("新警情后重新评分", "re-scored after a police incident"),
        "event:mediation_events": ("调解未果后重新评分", "re-scored after a failed mediation"),
        "event:screenings": ("新量表筛查后重新评分", "re-scored after a screening"),
        "event:psych_assessments": ("新心理评估后重新评分", "re-scored after an assessment"),
        "record_found_wrong": (
            "记录认定有误后重新评分",
            "re-scored after a record was found wrong",
        ),
    },
    "event": {
        "call": ("来电", "call"),
        "case": ("纠纷案件", "case"),
        "mediation": ("调解", "mediation"),
        "incident": ("警情", "police incident"),
    },
    "record_table": {
        "hotline_calls": ("来电", "call"),
        "cases": ("纠纷案件", "case"),
        "mediation_events": ("调解", "mediation"),
        "screenings": ("量表筛查", "screening"),
        "psych_assessments": ("心理评估", "assessment"),
        "incidents": ("警情", "police incident"),
    },
    "dispute_status": {
        "disputed": ("有异议，待核实", "disputed, awaiting a decision"),
        "found_wrong": ("已认定有误，不计入评分", "found wrong, left out of scores"),
        "upheld": ("已维持", "upheld"),
    },
    "dispute_reason": {
        "wrong_household": ("关联户错误", "linked to the wrong household"),
        "wrong_person": ("关联人员错误", "linked to the wrong person"),
        "not_this_family": ("说的是另一家", "about another family"),
        "duplicate": ("重复记录", "a duplicate"),
        "other": ("其他", "other"),
    },
}


def pick_lang(query: str | None, cookie: str | None) -> str:
    """``?lang=`` first, then the cookie, else Chinese."""
    for candidate in (query, cookie):
        if candidate in LANGS:
            return candidate
    return "zh"


@dataclass(frozen=True)
class Translator:
    """What templates call: ``t("key")``, ``t.term("band", "high")``, ``t.team(code)``, ``t.value(v)``."""

    lang: str
    teams: dict[str, Bilingual]

    @property
    def _i(self) -> int:
        return LANGS.index(self.lang)

    def __call__(self, key: str, **fields) -> str:
        text = MESSAGES[key][self._i]
        return text.format(**fields) if fields else text

    def term(self, kind: str, code: str | None) -> str:
        if code is None:
            return self("unknown")
        words = VOCABULARY[kind].get(code)
        return words[self._i] if words else code

    def feature(self, name: str) -> str:
        """A feature's label in the page's language (its code only when the registry has none)."""
        labels = feature_labels().get(name)
        return labels[self.lang] if labels else name

    def teams_list(self, codes) -> str:
        """Teams named and listed in the page's language: 、 between them in Chinese, a comma in English."""
        return self("list_sep").join(self.team(code) for code in codes)

    def team(self, code: str) -> str:
        names = self.teams.get(code)
        return getattr(names, self.lang) if names else code

    def duration(self, hours: float) -> str:
        """A span of time in the unit a person would use: minutes, hours, or days."""
        if hours < 1:
            return self("minutes", n=round(hours * 60))
        if hours < 48:
            return self("hours", n=f"{hours:.1f}".removesuffix(".0"))
        return self("days", n=f"{hours / 24:.1f}".removesuffix(".0"))

    def value(self, value, kind: str | None = None) -> str:
        """A feature value for people: 未知 for missing, 是/否 for flags (``kind`` "flag" or a bool), no
        spurious decimals."""
        if value is None or (isinstance(value, float) and math.isnan(value)):
            return self("unknown")
        if isinstance(value, bool) or (kind == "flag" and not isinstance(value, str)):
            return self("yes" if value else "no")
        if isinstance(value, str):  # the categorical features: area type, dispute type, case source
            kind = next(
                (k for k in ("dispute_type", "source", "area_type") if value in VOCABULARY[k]), None
            )
            return self.term(kind, value) if kind else value
        if float(value).is_integer():
            return f"{int(value):,}"
        return f"{value:.2f}"
