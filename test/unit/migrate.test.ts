import { expect } from 'chai';
import { interpret } from '../../src/migrate/rule.js';
import { servicesFor } from '../../src/migrate/ports.js';
import { words, shellWord } from '../../src/migrate/tokens.js';
import { readLegacyKnockd } from '../../src/migrate/knockd.js';
import { readJailLocal } from '../../src/migrate/jail.js';
import { buildCatalog, describePorts } from '../../src/model/services.js';

const catalog = buildCatalog();
/** "what it means" in one short string, for one-line table cases */
const meaning = (rule: string) => {
  const m = interpret(words(rule)!);
  if (m.kind === 'whitelist') return `whitelist ${'address' in m.source ? m.source.address.cidr : m.source.host} ${m.scope === 'all' ? 'all' : describePorts(m.scope)}`;
  if (m.kind === 'open') return `open ${describePorts(m.scope)}`;
  return m.kind;
};

describe('migrate: what a legacy INPUT rule means', () => {
  const cases: [string, string][] = [
    ['-s 198.51.100.21/32 -p udp -m multiport --dports 5060,5061,5062,4569 -j ACCEPT', 'whitelist 198.51.100.21/32 udp/4569, udp/5060:5062'],
    ['-s office.dyn.example.net -j ACCEPT', 'whitelist office.dyn.example.net all'],
    ['-s pbx.dyn.example.net/32 -p tcp -m tcp --dport 22 -j ACCEPT', 'whitelist pbx.dyn.example.net tcp/22'],
    ['-s 2001:db8:50::/48 -p tcp -m state --state NEW -m tcp --dport 22 -j ACCEPT', 'whitelist 2001:db8:50::/48 tcp/22'],
    ['-s 198.51.100.128/25 -p udp -j ACCEPT', 'whitelist 198.51.100.128/25 udp/1:65535'],
    ['-p udp -m udp --dport 10000:20000 -j ACCEPT', 'open udp/10000:20000'],
    ['-s 0.0.0.0/0 -p tcp --dport 443 -j ACCEPT', 'open tcp/443'],
    ['-i lo -j ACCEPT', 'base'],
    ['-m state --state RELATED,ESTABLISHED -j ACCEPT', 'base'],
    ['-j REJECT --reject-with icmp-host-prohibited', 'base'],
    ['-j fail2ban-SIP', 'fail2ban'],
    ['-p icmp -m icmp --icmp-type 8 -j ACCEPT', 'unknown'],
    ['-p tcp --dport 8088 -m limit --limit 5/min -j ACCEPT', 'unknown'],
    ['-s 203.0.113.5 -i eth1 -j ACCEPT', 'unknown'],
    ['! -s 203.0.113.5 -j ACCEPT', 'unknown'],
    ['-s 203.0.113.5 -j DROP', 'unknown'],
    ['-s $(reboot) -j ACCEPT', 'unknown'],
    ['-j ACCEPT', 'unknown'],
    ['-p tcp --dport sip -j ACCEPT', 'unknown'],
  ];
  for (const [rule, want] of cases) it(`${rule} -> ${want}`, () => expect(meaning(rule)).to.equal(want));
});

describe('migrate: port scopes onto the catalog', () => {
  const fit = (ports: string) => {
    const r = servicesFor(ports === 'all' ? 'all' : ports.split(',').map((p) => { const [proto, range] = p.trim().split('/'); const [a, b] = range.split(':').map(Number); return { proto: proto as 'tcp' | 'udp', from: a, to: b ?? a }; }), catalog);
    return `${r.services.join(',')}${r.custom ? ` = ${describePorts(r.custom.ranges)}` : ''}`;
  };
  const cases: [string, string][] = [
    ['all', 'all'],
    ['udp/5060:5069, tcp/5060:5069', 'sip'],
    ['udp/5060:5069, udp/4569', 'sip-udp,iax'],
    ['udp/5060:5069, tcp/9001', 'sip-udp,webmin'],
    ['udp/5060:5069, tcp/8443', 'sip-udp,tcp-8443 = tcp/8443'],
    ['tcp/22', 'tcp-22 = tcp/22'],
    ['tcp/22, tcp/9022', 'ssh'],
    ['tcp/22, tcp/80, tcp/443', 'ports-4c00ec7a = tcp/22, tcp/80, tcp/443'],
    ['udp/1:65535', 'udp-1-65535 = udp/1:65535'],
  ];
  for (const [ports, want] of cases) it(`${ports} -> ${want}`, () => expect(fit(ports)).to.equal(want));
});

describe('migrate: words and the way back into shell', () => {
  it('groups quoted words as iptables-save and sh write them', () => {
    expect(words('-A INPUT -m comment --comment "Flowroute east" -j ACCEPT')).to.deep.equal(['-A', 'INPUT', '-m', 'comment', '--comment', 'Flowroute east', '-j', 'ACCEPT']);
    expect(words('echo "unterminated')).to.equal(undefined);
  });
  it('quotes what sh would read otherwise, and refuses what it cannot quote', () => {
    expect(shellWord('5/min')).to.equal('5/min');
    expect(shellWord('Flowroute east')).to.equal("'Flowroute east'");
    expect(shellWord('$(reboot)')).to.equal("'$(reboot)'");
    expect(shellWord("it's")).to.equal(undefined);
    expect(shellWord('a\nb')).to.equal(undefined);
  });
});

describe('migrate: legacy knockd.conf and jail.local', () => {
  it('keeps the sequence and the grant time; refuses a sequence tm3 cannot run', () => {
    const k = readLegacyKnockd('[opencloseALL]\n sequence = 7113:tcp,8224:tcp,9335:tcp\n cmd_timeout = 600\n[closeSSH]\n sequence = 9000,8000,7000\n');
    expect(k.sequence).to.deep.equal([7113, 8224, 9335]);
    expect(k.grantSeconds).to.equal(600);
    expect(k.notes).to.deep.equal(['knockd section [closeSSH] not carried over: tm3 runs one sequence']);
    expect(readLegacyKnockd('[openclose]\n sequence = 7000:udp,8000,9000\n').sequence).to.equal(undefined);
    expect(readLegacyKnockd('[openclose]\n sequence = 22,8000,9000\n').sequence).to.equal(undefined);
  });
  it('reads timings, the Asterisk log, ignoreip and the jails tm3 replaces', () => {
    const j = readJailLocal('[DEFAULT]\nignoreip = 127.0.0.1\n  203.0.113.50\nbantime = 1h\n[asterisk]\nenabled = true\nlogpath = /var/log/asterisk/messages\n[apache]\nenabled = true\n[sshd]\nenabled = false\n');
    expect(j.ignoreip).to.deep.equal(['127.0.0.1', '203.0.113.50']);
    expect(j.settings).to.deep.equal({ bantime: undefined, findtime: undefined, maxretry: undefined, asteriskLog: '/var/log/asterisk/messages' });
    expect(j.replaced).to.deep.equal(['asterisk']);
    expect(j.notes).to.deep.equal(['[DEFAULT] bantime = 1h not carried over: tm3 takes whole seconds', 'jail [apache] stays enabled as it is: tm3 has no jail for it']);
  });
});
