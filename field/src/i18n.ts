// Chinese by default, English switchable; the choice is kept on the device.
export type Lang = "zh" | "en";

const STRINGS = {
  app: ["督导现场", "Field inspections"],
  sign_in: ["登录", "Sign in"],
  username: ["用户名", "Username"],
  password: ["密码", "Password"],
  sign_out: ["退出登录", "Sign out"],
  sign_out_unsent: ["还有 {n} 条记录未发送。退出后它们会保留在本机，您再次登录后继续发送。确定退出？",
    "{n} records are not sent yet. They stay on this phone for you and are sent when you sign in again. Sign out?"],
  wrong_login: ["用户名或密码错误", "Wrong username or password"],
  signin_again: ["登录已失效（已过期或在别处被撤销），请重新输入密码。未发送的记录仍保留在本机，登录后继续发送。",
    "Your sign-in is no longer valid (it expired or was revoked elsewhere). Enter your password again: the unsent records stay on this phone and are sent once you are signed in."],
  need_network: ["首次登录需要网络", "The first sign-in needs a network"],
  unsent: ["未发送", "Unsent"],
  sync_now: ["立即同步", "Sync now"],
  syncing: ["同步中…", "Syncing…"],
  offline: ["离线", "Offline"],
  online: ["在线", "Online"],
  last_sync: ["上次同步", "Last sync"],
  never: ["从未", "never"],
  visits: ["走访任务", "Visits"],
  today: ["今天", "Today"],
  upcoming: ["即将进行", "Upcoming"],
  late: ["已逾期", "Late"],
  in_progress: ["进行中", "In progress"],
  done: ["已提交", "Submitted"],
  no_visits: ["暂无走访任务", "No visits"],
  start: ["开始走访", "Start visit"],
  open: ["打开", "Open"],
  unannounced: ["临时走访", "Unannounced visit"],
  choose_school: ["选择学校", "Choose a school"],
  create: ["开始", "Start"],
  back: ["返回", "Back"],
  answered: ["已答 {a}/{t}", "{a} of {t} answered"],
  photos_missing: ["缺 {n} 张照片", "{n} photos missing"],
  required: ["必填", "Required"],
  photo_required: ["需拍照", "Photo required"],
  na: ["不适用", "Not applicable"],
  time_hint: ["时:分（24 小时制），如 17:30", "HH:MM (24-hour), e.g. 17:30"],
  yes: ["是", "Yes"],
  no: ["否", "No"],
  take_photo: ["拍照", "Take photo"],
  submit: ["提交走访", "Submit visit"],
  submit_confirm: ["提交后答案不可再改。确定提交？", "Answers cannot change after submission. Submit?"],
  submit_blocked: ["还有必填项未答：{n}", "Required items unanswered: {n}"],
  submitted_wait: ["已提交，等待同步", "Submitted; waiting to sync"],
  verdict: ["现场结论", "On-site verdict"],
  verdict_pass: ["达标", "Pass"],
  verdict_fail: ["不达标", "Fail"],
  verdict_incomplete: ["尚不能判定", "Not yet decided"],
  verdict_exempt: ["不参与R1–R7评估（按实际配备）", "Not judged on R1–R7 (equipped as needed)"],
  verdict_invalid: ["答案无法评分", "Answers cannot be scored"],
  short: ["还差 {s}", "Short by {s}"],
  score: ["评分结果", "Score"],
  score_pending: ["评分中…", "Being scored…"],
  tickets: ["整改单", "Rectification tickets"],
  no_tickets: ["无整改单", "No tickets"],
  sync_panel: ["同步状态", "Sync status"],
  state_pending: ["待发送", "pending"],
  state_syncing: ["发送中", "syncing"],
  state_synced: ["已同步", "synced"],
  state_conflict: ["冲突", "conflict"],
  state_rejected: ["被拒绝", "rejected"],
  all_sent: ["全部已发送", "Everything is sent"],
  conflict_title: ["冲突：请选择保留的值", "Conflict: choose the value to keep"],
  was: ["原值", "Was"],
  theirs: ["他人的", "Theirs"],
  mine: ["我的", "Mine"],
  keep_theirs: ["用他人的", "Keep theirs"],
  keep_mine: ["用我的", "Keep mine"],
  dismiss: ["放弃我的修改", "Discard my change"],
  photo_queued: ["排队中", "queued"],
  photo_uploading: ["上传中 {p}%", "uploading {p}%"],
  photo_sent: ["已发送", "sent"],
  photo_processed: ["已处理", "processed"],
  photo_refused: ["被拒绝", "refused"],
  section_whole: ["全校", "Whole school"],
  section_primary: ["小学部", "Primary section"],
  section_junior: ["初中部", "Junior section"],
  add_value: ["每个数用逗号或空格分开", "Separate numbers with commas or spaces"],
  language: ["English", "中文"],
  status_planned: ["计划中", "planned"],
  status_in_progress: ["进行中", "in progress"],
  status_submitted: ["已提交", "submitted"],
  status_cancelled: ["已取消", "cancelled"],
  met: ["达标", "met"],
  not_met: ["未达标", "not met"],
  not_assessed: ["待评估", "not assessed"],
  not_applicable: ["不适用", "n/a"],
} as const;

export type Key = keyof typeof STRINGS;
let lang: Lang = (localStorage.getItem("field.lang") as Lang) || "zh";

export const getLang = (): Lang => lang;
export function setLang(l: Lang): void {
  lang = l;
  localStorage.setItem("field.lang", l);
  document.documentElement.lang = l === "zh" ? "zh-CN" : "en";
}

export function t(key: Key, vars: Record<string, string | number> = {}): string {
  let s: string = STRINGS[key][lang === "zh" ? 0 : 1];
  for (const [k, v] of Object.entries(vars)) s = s.replace(`{${k}}`, String(v));
  return s;
}
