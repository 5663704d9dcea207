import { filenameOf } from './content-disposition.js';

describe('filenameOf (Content-Disposition)', () => {
  it.each([
    ['attachment; filename="tiny.bin"', 'tiny.bin'],
    ['attachment; filename=plain.txt', 'plain.txt'],
    ['attachment; filename="100%.png"', '100%.png'],
    ['attachment; filename="%E6%8A%A5%E5%91%8A.csv"', '报告.csv'],
    ['attachment; filename*=UTF-8\'\'%E6%8A%A5%E5%91%8A.csv; filename="fallback.csv"', '报告.csv'],
    ['attachment; filename="fallback.csv"; filename*=utf-8\'zh\'%E6%8A%A5.csv', '报.csv'],
    ["attachment; filename*=UTF-8''100%.png", '100%.png'],
    ["attachment; filename*=iso-8859-1''caf%E9.txt", 'café.txt'],
    ['attachment; filename="a;b \\"c\\".txt"', 'a;b "c".txt'],
    ['attachment; filename="../../etc/passwd"', 'passwd'],
    ['attachment; filename="..\\\\..\\\\evil.bat"', 'evil.bat'],
    ['attachment; filename="%2e%2e%2f%2e%2e%2fx"', 'x'],
    ['attachment; filename="dir/"', undefined],
    ['attachment; filename=".."', undefined],
    ['attachment; filename="a\u0000b\r\n.txt"', 'ab.txt'],
    ['attachment', undefined],
    ['', undefined],
    ['attachment; filename*=garbage; filename="ok.txt"', 'ok.txt'],
  ])('%j -> %j', (header, expected) => {
    expect(filenameOf(header)).toBe(expected);
  });
});
