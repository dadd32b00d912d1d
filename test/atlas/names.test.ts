import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { checkNamesAgainstLabels, parseNames, readNames } from '../../src/atlas/index.js';
import { AtlasError } from '../../src/errors.js';

const pairs = (t: ReturnType<typeof parseNames>) => t.entries.map((e) => [e.index, e.name]);

describe('parseNames: accepted forms', () => {
  it('whitespace "index name code" with CRLF, a BOM, comments and blank lines (aal.nii.txt)', () => {
    const t = parseNames(
      '\uFEFF# AAL\r\n1 Precentral_L 2001\r\n\r\n2  Precentral_R\t2002\r\n\r\n',
      'aal.txt',
    );
    expect(t.format).toBe('whitespace');
    expect(pairs(t)).toEqual([
      [1, 'Precentral_L'],
      [2, 'Precentral_R'],
    ]);
    expect(t.entries[1].line).toBe(4);
  });

  it('TSV with a header (names may hold spaces; extra columns ignored)', () => {
    const t = parseNames(
      'index\tname\tcolour\n10\tLeft Hippocampus\t#ff0000\n11\tRight Hippocampus\t#00ff00\n',
      'x.tsv',
    );
    expect(t.format).toBe('tsv');
    expect(pairs(t)).toEqual([
      [10, 'Left Hippocampus'],
      [11, 'Right Hippocampus'],
    ]);
  });

  it('CSV with "label,label_name" header, other column order and quoted fields', () => {
    const t = parseNames('region,label\n"Cortex, frontal",5\n"He said ""hi""",6\n', 'x.csv');
    expect(t.format).toBe('csv');
    expect(pairs(t)).toEqual([
      [5, 'Cortex, frontal'],
      [6, 'He said "hi"'],
    ]);
    const u = parseNames('label,label_name\n1,A\n2,B\n', 'y.csv');
    expect(pairs(u)).toEqual([
      [1, 'A'],
      [2, 'B'],
    ]);
  });

  it('"index label" headers: label is the name; headerless CSV is index, name', () => {
    expect(pairs(parseNames('Index Label\n3 Thalamus_L\n', 'a.txt'))).toEqual([[3, 'Thalamus_L']]);
    expect(pairs(parseNames('ID,Value,Name\n4,99,X\n', 'b.csv'))).toEqual([[4, 'X']]);
    expect(pairs(parseNames('1,Foo\n2,Bar\n', 'c.csv'))).toEqual([
      [1, 'Foo'],
      [2, 'Bar'],
    ]);
  });

  it('skips index 0 (background) with a note', () => {
    const t = parseNames('0 Background\n1 A\n', 'z.txt');
    expect(pairs(t)).toEqual([[1, 'A']]);
    expect(t.notes[0]).toMatch(/z\.txt, line 1: index 0/);
  });
});

describe('parseNames: errors name the file and line', () => {
  const fails = (text: string, pattern: RegExp) => {
    expect(() => parseNames(text, 'names.txt')).toThrow(AtlasError);
    expect(() => parseNames(text, 'names.txt')).toThrow(pattern);
  };
  it('duplicate index', () =>
    fails('1 A\n2 B\n1 C\n', /names\.txt, line 3: index 1 \("C"\) is already named on line 1/));
  it('missing index (CSV)', () =>
    fails('index,name\n1,A\n,B\n', /names\.txt, line 3: the index is missing/));
  it('non-integer index', () =>
    fails('1 A\n2.5 B\n', /line 2: the index "2\.5" is not an integer/));
  it('negative index', () => fails('1 A\n-3 B\n', /line 2: the index -3 is negative/));
  it('missing name', () => fails('1 A\n2\n', /line 2: index 2 has no name/));
  it('empty file', () => fails('\n  \n# only a comment\n', /names\.txt: the names file is empty/));
  it('header only', () => fails('index\tname\n', /header but no regions/));
  it('a first line that is neither data nor a header', () =>
    fails('Foo Bar\n1 A\n', /names\.txt, line 1: expected an integer index or a header row/));
});

describe('readNames and checkNamesAgainstLabels', () => {
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'glas3d-names-'));
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('reads a file; an unreadable file is an AtlasError naming it', async () => {
    const p = join(dir, 'n.txt');
    await writeFile(p, '1 A\n2 B\n');
    expect(pairs(await readNames(p))).toEqual([
      [1, 'A'],
      [2, 'B'],
    ]);
    await expect(readNames(join(dir, 'missing.txt'))).rejects.toThrow(/missing\.txt: cannot read/);
  });

  it('labels with voxels but no name: an error listing at most 10 of them', () => {
    const names = parseNames('1 A\n', 'n.txt');
    const voxels = new Map(Array.from({ length: 13 }, (_, i) => [i + 1, 5] as [number, number]));
    expect(() => checkNamesAgainstLabels(names, voxels, 'atlas.nii')).toThrow(
      /atlas\.nii: 12 label value\(s\) in the volume have no name in n\.txt: 2, 3, 4, 5, 6, 7, 8, 9, 10, 11 and 2 more/,
    );
  });

  it('names without voxels are dropped with a note', () => {
    const names = parseNames('1 A\n2 B\n3 C\n', 'n.txt');
    const check = checkNamesAgainstLabels(names, new Map([[2, 10]]), 'atlas.nii');
    expect(check.kept.map((e) => e.name)).toEqual(['B']);
    expect(check.dropped.map((e) => e.name)).toEqual(['A', 'C']);
    expect(check.notes[0]).toMatch(
      /2 named region\(s\) have no voxels in atlas\.nii.*A \(1\), C \(3\)/,
    );
  });
});
