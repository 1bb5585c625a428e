import ipaddr from 'ipaddr.js';
import { InputError } from './errors.js';
import { printable } from './address.js';

const LABEL_RE = /^(?!-)[a-z0-9-]{1,63}(?<!-)$/;

/** A fully-qualified DNS name as dynamic-DNS services hand out; lowercased, no trailing dot. */
export function validateHostname(text: string): string {
  const raw = String(text ?? '').trim();
  const host = raw.toLowerCase().replace(/\.$/, '');
  const fix = 'give a fully-qualified name such as pbx-home.dyndns.example.org';
  if (host === '') throw new InputError('hostname is empty', fix);
  if (ipaddr.isValid(host)) throw new InputError(`'${printable(raw)}' is an address, not a hostname`, 'use add-ip for addresses');
  if (host.length > 253 || /[^a-z0-9.-]/.test(host)) throw new InputError(`hostname '${printable(raw)}' has characters DNS names cannot have`, fix);
  const labels = host.split('.');
  if (labels.length < 2) throw new InputError(`hostname '${printable(raw)}' is not fully qualified`, fix);
  if (!labels.every((l) => LABEL_RE.test(l))) throw new InputError(`hostname '${printable(raw)}' has an empty or malformed label`, fix);
  if (/^[0-9]+$/.test(labels[labels.length - 1])) throw new InputError(`hostname '${printable(raw)}' ends in a number`, fix);
  return host;
}
