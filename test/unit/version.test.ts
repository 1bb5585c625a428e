import { expect } from 'chai';
import fs from 'node:fs';
import { VERSION } from '../../src/version.js';

// src/version.ts finds package.json one or two folders up (tsc's dist/ or the bundled CLI's dist/cli/)
describe('VERSION', () => {
  it("is the package's own version", () => {
    expect(VERSION).to.equal(JSON.parse(fs.readFileSync(new URL('../../package.json', import.meta.url), 'utf8')).version);
  });
});
