import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { execFileSync } from 'node:child_process';
import { expect } from 'chai';
import { asteriskLogLevels, asteriskLogsTwice } from '../../src/store/asterisk-logger.js';
import { Paths } from '../../src/store/paths.js';

// Which levels Asterisk writes to the jail's file decides whether each failure is logged twice.
describe("Asterisk's logger.conf, as the asterisk jail needs it", () => {
  let root: string;
  const write = (f: string, text: string) => { fs.mkdirSync(path.dirname(path.join(root, f)), { recursive: true }); fs.writeFileSync(path.join(root, f), text); };
  beforeEach(() => { root = fs.mkdtempSync(path.join(os.tmpdir(), 'tm3-astlog-')); });
  afterEach(() => fs.rmSync(root, { recursive: true, force: true }));

  it('notice and security in the same file: logged twice', () => {
    write('etc/asterisk/logger.conf', '[general]\ndateformat=%F %T\n[logfiles]\nconsole => notice\nfull => notice,warning,error,security ; comment\n');
    expect(asteriskLogLevels(new Paths(root), '/var/log/asterisk/full')).to.deep.equal(['notice', 'warning', 'error', 'security']);
    expect(asteriskLogsTwice(new Paths(root), '/var/log/asterisk/full')).to.equal(true);
  });
  it('FreePBX\'s way (security in a file of its own, reached through #include): once', () => {
    write('etc/asterisk/logger.conf', '[general]\n#include logger_general_additional.conf\n[logfiles]\n#include "logger_logfiles_additional.conf"\n');
    write('etc/asterisk/logger_logfiles_additional.conf', 'full => notice,warning,error,verbose,dtmf,fax\nsecurity => security\n');
    const p = new Paths(root);
    expect(asteriskLogsTwice(p, '/var/log/asterisk/full')).to.equal(false);
    expect(asteriskLogsTwice(p, '/var/log/asterisk/security')).to.equal(false);
    expect(asteriskLogLevels(p, '/var/log/asterisk/security')).to.deep.equal(['security']);
  });
  it('"*", a format in brackets and an absolute path count too; a missing logger.conf says nothing', () => {
    write('etc/asterisk/logger.conf', '[logfiles]\n/var/log/pbx/all => [plain]*\n');
    expect(asteriskLogsTwice(new Paths(root), '/var/log/pbx/all')).to.equal(true);
    expect(asteriskLogLevels(new Paths(path.join(root, 'none')), '/var/log/asterisk/full')).to.equal(undefined);
  });
  it('an include that loops, or a logger.conf that is a FIFO, ends without hanging', () => {
    write('etc/asterisk/logger.conf', '[logfiles]\n#include logger.conf\nfull => notice,security\n');
    expect(asteriskLogsTwice(new Paths(root), '/var/log/asterisk/full')).to.equal(true);
    fs.rmSync(path.join(root, 'etc/asterisk/logger.conf'));
    fs.mkdirSync(path.join(root, 'etc/asterisk'), { recursive: true });
    execFileSync('mkfifo', [path.join(root, 'etc/asterisk/logger.conf')]);
    expect(asteriskLogLevels(new Paths(root), '/var/log/asterisk/full')).to.equal(undefined);
  });
  it('a block comment hides a line, astlogdir moves the files, and includes resolve from /etc/asterisk as Asterisk does', () => {
    write('etc/asterisk/asterisk.conf', '[directories]\nastlogdir => /srv/pbxlog\n');
    write('etc/asterisk/logger.conf', '[logfiles]\n;-- old:\nfull => notice,security\n--;\n#include conf.d/logfiles.conf\n');
    write('etc/asterisk/conf.d/logfiles.conf', '#include more.conf\n');
    write('etc/asterisk/more.conf', 'full => security\n'); // relative to /etc/asterisk, not to conf.d
    const p = new Paths(root);
    expect(asteriskLogLevels(p, '/srv/pbxlog/full')).to.deep.equal(['security']);
    expect(asteriskLogsTwice(p, '/srv/pbxlog/full')).to.equal(false);
    expect(asteriskLogLevels(p, '/var/log/asterisk/full')).to.equal(undefined);
  });
  it('an include or a link out of /etc/asterisk (/proc/kmsg, whose read never returns) is not read', () => {
    write('etc/asterisk/logger.conf', '[logfiles]\nfull => notice\n#include /proc/kmsg\n#include ../../outside.conf\n');
    write('outside.conf', 'full => notice,security\n');
    fs.symlinkSync('/proc/kmsg', path.join(root, 'etc/asterisk/kmsg.conf'));
    fs.appendFileSync(path.join(root, 'etc/asterisk/logger.conf'), '#include kmsg.conf\n');
    expect(asteriskLogLevels(new Paths(root), '/var/log/asterisk/full')).to.deep.equal(['notice']);
  });
});
