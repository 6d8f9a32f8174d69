// VERIFY.txt: how a third party — a court's expert, the defence, an officer with a laptop — checks a package without
// Cordon's word for it: with cordon-verify (plain Node), or by hand with coreutils and OpenSSL. Written on export
// beside the package's signed files; it is instructions, not evidence, so nothing in it is trusted by the checks.
import type { Manifest } from './format.ts';

export function verifyText(manifest: Manifest, o: { signer: string; packageFolder: string }): string {
  const sums = manifest.files.map((f) => `${f.sha256}  ${f.path}`).join('\n');
  const sha1 = manifest.files.map((f) => `${f.sha1}  ${f.path}`).join('\n');
  return `HOW TO VERIFY THIS EVIDENCE PACKAGE
===================================

Case ${manifest.case.caseNumber} (${manifest.case.agency})${manifest.case.exhibit ? `, exhibit ${manifest.case.exhibit}` : ''}
VM ${manifest.item.vm.name} (${manifest.item.vm.id}) on host ${manifest.item.host}, captured ${manifest.capture.startedAt} to ${manifest.capture.finishedAt}
Package ${manifest.packageId}, format ${manifest.format}, made by ${manifest.tool.name} ${manifest.tool.version}
${manifest.item.simulated ? '\nTHIS VM WAS SIMULATED: the memory and disk images are synthetic (training or test material).\n' : ''}
The package was signed with the Ed25519 key whose fingerprint is

    ${o.signer}

Compare it with the fingerprint printed on the signed paper affidavit. If they differ, stop: the package is not the
one the affidavit describes.

1. With cordon-verify (any machine with Node.js 20 or newer; no Cordon installation needed)
-------------------------------------------------------------------------------------------

    npx cordon-verify ${o.packageFolder} --key ${o.signer}

(from a checkout of Cordon's repository: npm install, then npx cordon-verify ...). It recomputes every file's SHA-256
and SHA-1, checks that no file is missing or added, checks the three signatures and every entry of the chain of
custody, and prints a report. Exit status 0 means everything holds and the package was signed by that key.

2. By hand, with coreutils and OpenSSL 3
----------------------------------------

Inside the package folder:

a) Every evidence file against the manifest (SHA-256 is the evidentiary hash):

    sha256sum -c <<'SUMS'
${sums.split('\n').map((l) => `    ${l}`).join('\n')}
    SUMS

   and, as a legacy cross-check, SHA-1:

    sha1sum -c <<'SUMS'
${sha1.split('\n').map((l) => `    ${l}`).join('\n')}
    SUMS

   These lists are copied from manifest.json; step b) proves manifest.json itself is the signed one. Also check
   that the evidence folder holds no file the lists do not name.

b) The signatures of manifest.json, custody.jsonld and affidavit.pdf (each .sig is a raw 64-byte Ed25519 signature
   over the exact bytes of the file):

    for f in manifest.json custody.jsonld affidavit.pdf; do
      openssl pkeyutl -verify -pubin -inkey signer.pem -rawin -in "$f" -sigfile "$f.sig"
    done

   Each line must say "Signature Verified Successfully".

c) The signer's fingerprint (SHA-256 of the raw 32-byte public key, base64), to compare with the affidavit:

    printf 'SHA256:%s\\n' "$(openssl pkey -pubin -in signer.pem -outform DER | tail -c 32 | openssl dgst -sha256 -binary | base64 | tr -d '=')"

d) The chain of custody is in custody.jsonld (JSON-LD, CASE/UCO ontology). Each custody entry names the SHA-256 of
   the entry before it and is signed on its own; cordon-verify checks those links and signatures.
`;
}
