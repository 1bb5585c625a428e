import fs from 'node:fs';
import { fileURLToPath } from 'node:url';
import Handlebars from 'handlebars';
import { parseNet, forcedCidr } from '../model/address.js';
import { Tm3Error } from '../model/errors.js';
import { CONTACT } from '../model/contact.js';

/** The package root: templates/ and hooks/ hold the Handlebars sources. */
export const PACKAGE_DIR = fileURLToPath(new URL('../../', import.meta.url));

// Helpers re-check every value at the last moment: a template can only print what passes here.
const CHECKS: Record<string, RegExp> = {
  path: /^\/[A-Za-z0-9._/+-]*$/,
  setname: /^tm3-[a-z0-9-]{1,24}$/,
  // rule bodies are built in plan/rules.ts from validated parts; nothing else may look like one
  // (a lone '!' negates the next match: a shell word like any other except at a command's start)
  rule: /^(?:-[-A-Za-z0-9]+|[A-Za-z0-9][A-Za-z0-9,:./_-]*)(?: (?:-[-A-Za-z0-9]+|[A-Za-z0-9][A-Za-z0-9,:./_-]*|!))*$/,
  word: /^[A-Za-z0-9][A-Za-z0-9._+:-]*$/,
  base64: /^[A-Za-z0-9+/]{20,200}={0,2}$/,
  port: /^[1-9][0-9]{0,4}$/,
  // seconds and counts from config (a week's bantime is 604800)
  count: /^[1-9][0-9]{0,9}$/,
  // an absolute program path, then absolute paths or --root: how generated files call tm3
  command: /^\/[A-Za-z0-9._/+-]+(?: (?:\/[A-Za-z0-9._/+-]*|--root))*$/,
  // whom users ask (knock.FAQ, tm3.conf): one plain line, see model/contact.ts
  contact: CONTACT,
  // dialplan (issue 19): an extension or pattern, a context name (src/callin/config.ts checks them first)
  exten: /^(?:[0-9*#+]{1,32}|_[0-9XZN*#+][0-9XZN.*#+]{0,31})$/,
  context: /^[A-Za-z][A-Za-z0-9_-]{0,63}$/,
};

// A whole iptables-restore file, as rendered from templates/rules.v*: checked line by line
// before it goes into a shell here-document.
const RULESET_LINE = /^(?:|#[^\n]*|\*(?:filter|raw)|COMMIT|:[A-Z0-9-]+ (?:DROP|ACCEPT|-) \[0:0\]|-A [A-Z0-9-]+(?: (?:[-A-Za-z0-9,:./_]+|!))+)$/;

const hb = Handlebars.create();
for (const [name, re] of Object.entries(CHECKS)) {
  hb.registerHelper(name, (value: unknown) => {
    const s = String(value);
    if (!re.test(s)) throw new Tm3Error(`refusing to render ${name} '${s.slice(0, 40)}'`, 'this is a tm3 bug: report it with the input that caused it');
    return s;
  });
}
hb.registerHelper('ruleset', (value: unknown) => {
  const text = String(value);
  const bad = text.split('\n').find((l) => !RULESET_LINE.test(l));
  if (bad !== undefined || !text.endsWith('COMMIT\n')) throw new Tm3Error(`refusing to render ruleset line '${(bad ?? '').slice(0, 40)}'`, 'this is a tm3 bug: report it');
  return text;
});
hb.registerHelper('cidrhost', (value: unknown) => parseNet(String(value), { what: 'rendered address' }).address);
hb.registerHelper('cidr', (value: unknown) => parseNet(String(value), { force: true, what: 'rendered address' }).cidr);
// A set's members as `add SET CIDR` lines, each address re-checked like {{cidr}}: one helper call
// per set instead of two per member, which at 20,000 entries is most of rendering the ipsets file.
hb.registerHelper('members', (name: unknown, members: unknown) => {
  const set = String(name);
  if (!CHECKS.setname.test(set)) throw new Tm3Error(`refusing to render setname '${set.slice(0, 40)}'`, 'this is a tm3 bug: report it with the input that caused it');
  let out = '';
  for (const m of members as unknown[]) out += `add ${set} ${forcedCidr(String(m), 'rendered address')}\n`;
  return out;
});

const cache = new Map<string, Handlebars.TemplateDelegate>();

/** Render templates/<name>.hbs (or hooks/<name>.hbs); never HTML-escapes: these are shell, INI and iptables files. */
export function render(name: string, data: object): string {
  let tpl = cache.get(name);
  if (!tpl) {
    // the knock recipes a non-technical person pastes: knock.FAQ and each person's card share them
    if (cache.size === 0) hb.registerPartial('knock-recipes', fs.readFileSync(`${PACKAGE_DIR}templates/knock-recipes.hbs`, 'utf8'));
    const source = fs.readFileSync(`${PACKAGE_DIR}${name.includes('/') ? name : `templates/${name}`}.hbs`, 'utf8');
    tpl = hb.compile(source, { noEscape: true, strict: true });
    cache.set(name, tpl);
  }
  return tpl(data);
}
