import { describe, expect, it } from 'vitest';
import { unqualified } from '../../src/plan/drift.js';

describe('unqualified: the tenant schema in deparsed text, not in its string literals', () => {
  it('replaces the qualification, quoted or not, and leaves literals alone', () => {
    expect(unqualified("(acme.ok(qty) AND (note <> 'acme.x'::text))", 'acme')).toBe("(@local.ok(qty) AND (note <> 'acme.x'::text))");
    expect(unqualified('"We""ird".f(x)', 'We"ird')).toBe('@local.f(x)');
    // A doubled quote stays inside the literal; the text after it is code again.
    expect(unqualified("(a <> 'it''s acme.x') AND acme.f(a)", 'acme')).toBe("(a <> 'it''s acme.x') AND @local.f(a)");
    expect(unqualified("'acme.'", 'acme')).toBe("'acme.'");
    // Another schema whose name ends like this one is not this one's.
    expect(unqualified('xacme.f(a) + acme.g(a)', 'acme')).toBe('xacme.f(a) + @local.g(a)');
    expect(unqualified('acme.f(acme.g(a))', 'acme')).toBe('@local.f(@local.g(a))');
  });
});
