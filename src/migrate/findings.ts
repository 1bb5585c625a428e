// What the legacy readers find: whitelist sightings, open ports, rules to keep, and notes.
import type { PortRange } from '../model/services.js';
import type { Net } from '../model/address.js';
import type { Scope } from './ports.js';
import type { Source } from './rule.js';
import type { Accepted } from './denies.js';

export type Family = 4 | 6;

/** One place a legacy file whitelists a source. Several sightings can make one entry. */
export interface Sighting {
  source?: Source;
  scope: Scope;
  /** the entry name, from an entry block or a NAME.iptables file */
  name?: string;
  kind: 'block' | 'provider' | 'loose' | 'file' | 'custom';
  /** a provider's comment, for its name */
  label?: string;
  /** the legacy file's last resolved address of a name */
  lastIp?: Net;
  /** a "#***" line: the old iptables-restart disabled it because its name did not resolve */
  disabled?: boolean;
  /** the family whose rules it was in (iptables or ip6tables); a file sighting has none */
  family?: Family;
  where: string;
}

/**
 * A rule tm3 does not model: carried over to the ADMIN SECTION as an idempotent command. `admin`:
 * into TM3-ADMIN, which INPUT runs after loopback, bans and replies and before tm3's accepts
 * ('first': at its top, as "-I INPUT" put it at the top of INPUT; 'append': in legacy order).
 */
export interface KeptRule { family: Family; table: string; chain: string; args: string[]; admin?: 'first' | 'append'; where: string }

/** The ADMIN SECTION's new lines, in the order the legacy files had them. */
export type HandLine = ({ kind: 'rule' } & KeptRule) | { kind: 'raw'; text: string; where: string };

/** note: understood and handled; kept: carried over as a hand rule; unknown: not understood, not carried */
export type Level = 'note' | 'kept' | 'unknown';
export interface Note { where: string; text: string; level: Level }

export interface Findings {
  sightings: Sighting[];
  /** ports a legacy rules file opened to everyone, per family (absent: no such file was read) */
  open: { 4?: PortRange[]; 6?: PortRange[] };
  /** where a rules file's INPUT ends with an unconditional DROP or REJECT, per family: rules appended later never match */
  finalDeny: { 4?: string; 6?: string };
  /** the ACCEPTs met so far, per family, in the order the legacy box met them (for denies that follow) */
  accepted: { 4: Accepted[]; 6: Accepted[] };
  /** INPUT rules loaded so far per family, and the position of the final deny among them */
  inputCount: { 4: number; 6: number };
  finalDenyPos: { 4?: number; 6?: number };
  hand: HandLine[];
  /** user chains the kept rules need, per family and table */
  chains: { family: Family; table: string; chain: string }[];
  notes: Note[];
}

export const emptyFindings = (): Findings => ({ sightings: [], open: {}, finalDeny: {}, accepted: { 4: [], 6: [] }, inputCount: { 4: 0, 6: 0 }, finalDenyPos: {}, hand: [], chains: [], notes: [] });
