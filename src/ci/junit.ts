/**
 * JUnit XML for CI test reporters (`verify --junit`, `check-rls --junit`),
 * written by hand: the format needs four elements and correct escaping, not a
 * dependency. Text and attributes are escaped (& < > " '), and characters XML
 * 1.0 cannot carry (control characters, lone surrogates) are replaced by
 * U+FFFD, so a tenant or table name of any bytes yields a well-formed file.
 */
import { writeFileSync } from 'node:fs';
import { UsageError } from '../errors.js';

export interface JunitCase {
  classname: string;
  name: string;
  seconds?: number;
  /** Present: the case failed with this message (attribute) and detail (element text). */
  failure?: { message: string; detail?: string; type?: string };
  /** Present: the case was skipped, with this reason. */
  skipped?: string;
}

export interface JunitSuite {
  name: string;
  seconds?: number;
  cases: JunitCase[];
  /** <properties>: e.g. the run id. */
  properties?: Record<string, string>;
}

const INVALID_XML = /[\u0000-\u0008\u000B\u000C\u000E-\u001F\uFFFE\uFFFF]|[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/g;

export function xmlEscape(s: string): string {
  return s.replace(INVALID_XML, '\uFFFD').replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;').replace(/'/g, '&apos;');
}

/** Attribute values also keep their newlines and tabs (attribute normalisation would turn them into spaces). */
function attr(s: string): string {
  return xmlEscape(s).replace(/\n/g, '&#10;').replace(/\r/g, '&#13;').replace(/\t/g, '&#9;');
}

export function junitXml(suites: JunitSuite[]): string {
  const count = (f: (c: JunitCase) => boolean) => suites.reduce((a, s) => a + s.cases.filter(f).length, 0);
  const lines = ['<?xml version="1.0" encoding="UTF-8"?>'];
  const total = suites.reduce((a, s) => a + s.cases.length, 0);
  lines.push(`<testsuites name="oasys-migrate" tests="${total}" failures="${count((c) => !!c.failure)}" errors="0" skipped="${count((c) => !!c.skipped)}">`);
  for (const s of suites) {
    const failures = s.cases.filter((c) => c.failure).length;
    const skipped = s.cases.filter((c) => c.skipped).length;
    lines.push(
      `  <testsuite name="${attr(s.name)}" tests="${s.cases.length}" failures="${failures}" errors="0" skipped="${skipped}" time="${(s.seconds ?? 0).toFixed(3)}" timestamp="${new Date().toISOString().slice(0, 19)}">`,
    );
    if (s.properties && Object.keys(s.properties).length > 0) {
      lines.push('    <properties>');
      for (const [k, v] of Object.entries(s.properties)) lines.push(`      <property name="${attr(k)}" value="${attr(v)}"/>`);
      lines.push('    </properties>');
    }
    for (const c of s.cases) {
      const open = `    <testcase classname="${attr(c.classname)}" name="${attr(c.name)}" time="${(c.seconds ?? 0).toFixed(3)}"`;
      if (!c.failure && !c.skipped) {
        lines.push(open + '/>');
        continue;
      }
      lines.push(open + '>');
      if (c.failure)
        lines.push(
          `      <failure message="${attr(c.failure.message)}" type="${attr(c.failure.type ?? 'failure')}">${xmlEscape(c.failure.detail ?? c.failure.message)}</failure>`,
        );
      if (c.skipped) lines.push(`      <skipped message="${attr(c.skipped)}"/>`);
      lines.push('    </testcase>');
    }
    lines.push('  </testsuite>');
  }
  lines.push('</testsuites>');
  return lines.join('\n') + '\n';
}

export function writeJunit(file: string, suites: JunitSuite[], flag = '--junit'): void {
  try {
    writeFileSync(file, junitXml(suites));
  } catch (err) {
    throw new UsageError(`${flag} ${file}: cannot write the report (${(err as Error).message})`, 'give a writable path', { keyPath: flag });
  }
}
