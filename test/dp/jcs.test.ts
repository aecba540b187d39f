// The ledger's canonical JSON is RFC 8785 (JSON Canonicalization Scheme):
// the RFC's own examples (section 3.2.2 serialisation, section 3.2.3
// property sorting) and every row of its Appendix B number table, plus the
// I-JSON refusals (non-finite numbers, lone surrogates).
import { InvalidArgument } from '../../src/errors.js';
import { canonicalJson } from '../../src/dp/ledger-format.js';
import { expectFedveilError } from '../expect-error.js';

describe('canonicalJson is RFC 8785 (JCS)', () => {
  test('section 3.2.2: the sample object and its canonical form', () => {
    // The RFC's input text, parsed as JSON (so its escapes and number spellings are JSON's).
    const input = JSON.parse(String.raw`{
      "numbers": [333333333.33333329, 1E30, 4.50, 2e-3, 0.000000000000000000000000001],
      "string": "\u20ac$\u000F\u000aA'\u0042\u0022\u005c\\\"\/",
      "literals": [null, true, false]
    }`) as unknown;
    expect(canonicalJson(input)).toBe(String.raw`{"literals":[null,true,false],"numbers":[333333333.3333333,1e+30,4.5,0.002,1e-27],"string":"€$\u000f\nA'B\"\\\\\"/"}`);
  });

  test('section 3.2.3: properties sorted by UTF-16 code units', () => {
    const input = JSON.parse(String.raw`{
      "\u20ac": "Euro Sign",
      "\r": "Carriage Return",
      "\ufb33": "Hebrew Letter Dalet With Dagesh",
      "1": "One",
      "\ud83d\ude00": "Emoji: Grinning Face",
      "\u0080": "Control",
      "\u00f6": "Latin Small Letter O With Diaeresis"
    }`) as Record<string, string>;
    const out = canonicalJson(input);
    // The member order as written (Object.keys of a parsed object would put the array index "1" first).
    const names = [...out.matchAll(/"((?:[^"\\]|\\.)*)":/g)].map((m) => JSON.parse(`"${m[1]!}"`) as string);
    expect(names).toEqual(['\r', '1', '\u0080', '\u00f6', '\u20ac', '\ud83d\ude00', '\ufb33']);
    expect(out).toBe('{"\\r":"Carriage Return","1":"One","\u0080":"Control","\u00f6":"Latin Small Letter O With Diaeresis",'
      + '"\u20ac":"Euro Sign","\ud83d\ude00":"Emoji: Grinning Face","\ufb33":"Hebrew Letter Dalet With Dagesh"}');
  });

  test('Appendix B: every finite row of the number table', () => {
    const rows: [string, string][] = [
      ['0000000000000000', '0'],
      ['8000000000000000', '0'],
      ['0000000000000001', '5e-324'],
      ['8000000000000001', '-5e-324'],
      ['7fefffffffffffff', '1.7976931348623157e+308'],
      ['ffefffffffffffff', '-1.7976931348623157e+308'],
      ['4340000000000000', '9007199254740992'],
      ['c340000000000000', '-9007199254740992'],
      ['4430000000000000', '295147905179352830000'],
      ['44b52d02c7e14af5', '9.999999999999997e+22'],
      ['44b52d02c7e14af6', '1e+23'],
      ['44b52d02c7e14af7', '1.0000000000000001e+23'],
      ['444b1ae4d6e2ef4e', '999999999999999700000'],
      ['444b1ae4d6e2ef4f', '999999999999999900000'],
      ['444b1ae4d6e2ef50', '1e+21'],
      ['3eb0c6f7a0b5ed8c', '9.999999999999997e-7'],
      ['3eb0c6f7a0b5ed8d', '0.000001'],
      ['41b3de4355555553', '333333333.3333332'],
      ['41b3de4355555554', '333333333.33333325'],
      ['41b3de4355555555', '333333333.3333333'],
      ['41b3de4355555556', '333333333.3333334'],
      ['41b3de4355555557', '333333333.33333343'],
      ['becbf647612f3696', '-0.0000033333333333333333'],
      ['43143ff3c1cb0959', '1424953923781206.2'],
    ];
    const view = new DataView(new ArrayBuffer(8));
    for (const [bits, text] of rows) {
      view.setBigUint64(0, BigInt(`0x${bits}`));
      expect([bits, canonicalJson(view.getFloat64(0))]).toEqual([bits, text]);
      expect([bits, canonicalJson({ v: [view.getFloat64(0)] })]).toEqual([bits, `{"v":[${text}]}`]);
    }
  });

  test('Appendix B NaN and Infinity, and lone surrogates, are not I-JSON: InvalidArgument', () => {
    const view = new DataView(new ArrayBuffer(8));
    for (const bits of ['7fffffffffffffff', '7ff0000000000000', 'fff0000000000000']) {
      view.setBigUint64(0, BigInt(`0x${bits}`));
      expectFedveilError(() => canonicalJson({ n: view.getFloat64(0) }), InvalidArgument, 'INVALID_ARGUMENT');
    }
    expectFedveilError(() => canonicalJson({ s: 'a\ud800b' }), InvalidArgument, 'INVALID_ARGUMENT');
    expectFedveilError(() => canonicalJson({ ['\udfff']: 1 }), InvalidArgument, 'INVALID_ARGUMENT');
    expect(canonicalJson({ s: '\ud83d\ude00' })).toBe('{"s":"\ud83d\ude00"}');
  });
});
