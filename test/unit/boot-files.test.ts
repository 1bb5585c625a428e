import { expect } from 'chai';
import { loadConfig, type Config } from '../../src/store/config.js';
import { Paths } from '../../src/store/paths.js';
import { bootFiles, rulesText } from '../../src/plan/files.js';
import { render } from '../../src/plan/render.js';

describe('boot files: units, failsafe, if-up hooks', () => {
  let config: Config;
  const staged = new Paths('/srv/lab');
  const tm3 = '/usr/bin/node /opt/tm3/dist/cli/main.js --root /srv/lab';
  before(async () => { config = await loadConfig(new Paths('/nonexistent-tm3-root')); });
  const file = (p: Paths, suffix: string, cmd = tm3) => bootFiles(config, p, cmd).find((f) => f.path.endsWith(suffix))!;

  it('tm3-firewall.service runs failsafe, fail2ban, iptables-custom, then verifies, with the staged root in every path', () => {
    const exec = file(staged, 'tm3-firewall.service').text.split('\n').filter((l) => l.startsWith('ExecStart='));
    expect(exec).to.deep.equal([
      'ExecStart=/srv/lab/usr/local/sbin/tm3-failsafe ensure',
      'ExecStart=-/bin/systemctl --no-block try-restart fail2ban.service',
      'ExecStart=-/bin/sh /srv/lab/usr/local/sbin/iptables-custom',
      'ExecStart=/srv/lab/usr/local/sbin/tm3-failsafe verify',
    ]);
    expect(file(staged, 'tm3-firewall.service').text).to.match(/^After=netfilter-persistent\.service/m);
  });

  it('leaves fail2ban out of the boot order when it is disabled', () => {
    const off = { ...config, fail2ban: { ...config.fail2ban, enabled: false } };
    expect(bootFiles(off, staged, tm3).find((f) => f.path.endsWith('tm3-firewall.service'))!.text).not.to.include('fail2ban');
  });

  it('on a real root the paths are plain', () => {
    const real = new Paths('/');
    expect(file(real, 'tm3-refresh.service', '/usr/local/sbin/tm3').text).to.match(/^ExecStart=\/usr\/local\/sbin\/tm3 refresh --reason timer$/m);
    expect(file(real, '/etc/network/if-up.d/tm3', '/usr/local/sbin/tm3').text).to.include('exec /usr/local/sbin/tm3-refresh-soon "if-up:${IFACE:-unknown}"');
  });

  it('the timer runs every 10 minutes, all day', () => {
    expect(file(staged, 'tm3-refresh.timer').text).to.match(/^OnCalendar=\*:0\/10$/m);
  });

  it('refresh-soon runs the staged tm3 in the background behind two flock slots', () => {
    const t = file(staged, 'tm3-refresh-soon').text;
    expect(t).to.include(`timeout 300 ${tm3} --quiet refresh --reason "$reason"`);
    expect(t).to.match(/flock -n 9 \|\| exit 0\n\s+flock 8\n\s+flock -u 9/);
    expect(t).to.match(/&\nexit 0\n$/);
  });

  it("the failsafe carries tm3's own rules in quoted here-documents", () => {
    const t = file(staged, 'tm3-failsafe').text;
    expect(t).to.include(`<<'TM3_RULES_V4'\n${rulesText(config, 4)}TM3_RULES_V4\n`);
    expect(t).to.include(`<<'TM3_RULES_V6'\n${rulesText(config, 6)}TM3_RULES_V6\n`);
  });

  it('refuses a tm3 command or ruleset that could break out of the script', () => {
    expect(() => bootFiles(config, staged, '/usr/bin/node x; reboot')).to.throw(/refusing to render command/);
    expect(() => render('tm3-failsafe', { version: '1', self: '/x', ipsetsFile: '/x', custom: '/x', rulesV4: '*filter\nTM3_RULES_V4\nrm -rf /\nCOMMIT\n', rulesV6: '' })).to.throw(/refusing to render ruleset/);
  });
});
