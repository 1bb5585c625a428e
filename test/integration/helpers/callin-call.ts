import fs from 'node:fs';
import path from 'node:path';
import { execa } from 'execa';
import type { Lab } from '../../../src/lab/lab.js';

// A phone calling tm3's call-in extension: sipp places the call (digest auth) and keys DTMF as
// SIP INFO (application/dtmf-relay; the lab's endpoints say dtmf_mode = info, and
// res_pjsip_dtmf_info is loaded). The scenario is written per call from a list of steps, so each
// test says exactly when each key is pressed.

export type Step = { wait: number } | { keys: string } | { mark: string } | { hangup: true } | { awaitBye: true };

const INFO = (cseq: number, key: string) => `
  <send retrans="500">
    <![CDATA[

      INFO sip:[$ext]@[remote_ip]:[remote_port] SIP/2.0
      Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch]
      From: <sip:[service]@[remote_ip]>;tag=tm3[pid]-[call_number]
      To: <sip:[$ext]@[remote_ip]>[$totag]
      Call-ID: [call_id]
      CSeq: ${cseq} INFO
      Contact: <sip:[service]@[local_ip]:[local_port]>
      Max-Forwards: 70
      Content-Type: application/dtmf-relay
      Content-Length: [len]

      Signal=${key}
      Duration=160

    ]]>
  </send>
  <recv response="200"/>
  <pause milliseconds="250"/>`;

function scenario(steps: Step[]): string {
  let cseq = 3;
  const body = steps.map((s) => {
    if ('wait' in s) return `  <pause milliseconds="${s.wait}"/>`;
    if ('mark' in s) return `  <nop><action><exec command="date +%s.%N > ${s.mark}"/></action></nop>`;
    if ('keys' in s) return [...s.keys].map((k) => INFO(cseq++, k)).join('\n');
    if ('hangup' in s) return `
  <send retrans="500">
    <![CDATA[

      BYE sip:[$ext]@[remote_ip]:[remote_port] SIP/2.0
      Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch]
      From: <sip:[service]@[remote_ip]>;tag=tm3[pid]-[call_number]
      To: <sip:[$ext]@[remote_ip]>[$totag]
      Call-ID: [call_id]
      CSeq: ${cseq++} BYE
      Max-Forwards: 70
      Content-Length: 0

    ]]>
  </send>
  <recv response="200"/>`;
    return `
  <recv request="BYE" timeout="60000"/>
  <send>
    <![CDATA[

      SIP/2.0 200 OK
      [last_Via:]
      [last_From:]
      [last_To:]
      [last_Call-ID:]
      [last_CSeq:]
      Content-Length: 0

    ]]>
  </send>`;
  }).join('\n');
  const invite = (cseq: number, auth: boolean) => `
  <send retrans="500">
    <![CDATA[

      INVITE sip:[$ext]@[remote_ip]:[remote_port] SIP/2.0
      Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch]
      From: <sip:[service]@[remote_ip]>;tag=tm3[pid]-[call_number]
      To: <sip:[$ext]@[remote_ip]>
      Call-ID: [call_id]
      CSeq: ${cseq} INVITE
      Contact: <sip:[service]@[local_ip]:[local_port]>
      ${auth ? '[authentication]' : ''}
      Max-Forwards: 70
      Content-Type: application/sdp
      Content-Length: [len]

      v=0
      o=tm3 1 ${cseq} IN IP[local_ip_type] [local_ip]
      s=tm3
      c=IN IP[local_ip_type] [local_ip]
      t=0 0
      m=audio [$rtpport] RTP/AVP 0
      a=rtpmap:0 PCMU/8000

    ]]>
  </send>`;
  return `<?xml version="1.0" encoding="ISO-8859-1" ?>
<scenario name="tm3 call-in">
  <Global variables="ext,rtpport" />
${invite(1, false)}
  <recv response="100" optional="true"/>
  <recv response="401" auth="true"/>
  <send>
    <![CDATA[

      ACK sip:[$ext]@[remote_ip]:[remote_port] SIP/2.0
      [last_Via:]
      [last_From:]
      [last_To:]
      [last_Call-ID:]
      CSeq: 1 ACK
      Max-Forwards: 70
      Content-Length: 0

    ]]>
  </send>
${invite(2, true)}
  <recv response="100" optional="true"/>
  <recv response="180" optional="true"/>
  <recv response="183" optional="true"/>
  <recv response="200">
    <action>
      <ereg regexp="(;tag=[^;> ]+)" search_in="hdr" header="To:" check_it="true" assign_to="whole,totag"/>
    </action>
  </recv>
  <send>
    <![CDATA[

      ACK sip:[$ext]@[remote_ip]:[remote_port] SIP/2.0
      Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch]
      From: <sip:[service]@[remote_ip]>;tag=tm3[pid]-[call_number]
      To: <sip:[$ext]@[remote_ip]>[$totag]
      Call-ID: [call_id]
      CSeq: 2 ACK
      Max-Forwards: 70
      Content-Length: 0

    ]]>
  </send>
${body}
  <Reference variables="whole" />
</scenario>
`;
}

/** Place one call from `client` as `endpoint`; resolves with sipp's exit and errors when it ends. */
export async function callIn(lab: Lab, client: { ns: string; v4: string }, endpoint: string, password: string, ext: string, steps: Step[], sipPort = 5070) {
  const file = path.join(lab.root, `callin-${endpoint}-${Date.now()}.xml`);
  fs.writeFileSync(file, scenario(steps));
  const err = `${file}.err`;
  const r = await execa('ip', ['netns', 'exec', client.ns, 'sipp', `${lab.server.v4}:5060`, '-sf', file, '-s', endpoint, '-au', endpoint, '-ap', password,
    '-i', client.v4, '-p', String(sipPort), '-m', '1', '-set', 'ext', ext, '-set', 'rtpport', '40000',
    '-nostdin', '-recv_timeout', '60000', '-timeout', '150s', '-trace_err', '-error_file', err], { reject: false, stdin: 'ignore', cwd: lab.root });
  return { exitCode: r.exitCode, errors: fs.existsSync(err) ? fs.readFileSync(err, 'utf8').slice(-2000) : '', out: `${r.stdout.slice(-1500)}\n${r.stderr.slice(-1500)}` };
}
