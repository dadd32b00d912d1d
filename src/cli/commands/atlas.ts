/** `glas3d atlas aal|PATH`: the regions of a label atlas, one row each. */
import { Option, type Command } from 'commander';
import { loadAtlas, type Atlas, type Region } from '../../atlas/index.js';
import { fixed, formatCsv, formatTable, type Align } from '../format.js';
import type { CliIo } from '../io.js';

const HEADERS = [
  'index',
  'name',
  'hemisphere',
  'voxels',
  'volume_mm3',
  'centre_x_mm',
  'centre_y_mm',
  'centre_z_mm',
  'search_x_mm',
  'search_y_mm',
  'search_z_mm',
  'centre_inside',
];

function cells(r: Region, decimals: number): string[] {
  return [
    String(r.index),
    r.name,
    r.hemisphere,
    String(r.voxels),
    fixed(r.volumeMm3, decimals),
    ...r.centreMm.map((x) => fixed(x, decimals)),
    ...r.searchPointMm.map((x) => fixed(x, decimals)),
    r.centreInside ? 'yes' : 'no',
  ];
}

/** The text table: centres to 0.01 mm, a short header naming the atlas. */
export function formatAtlasTable(atlas: Atlas): string {
  const headers = [
    'index',
    'name',
    'hemi',
    'voxels',
    'mm³',
    'centre x',
    'y',
    'z',
    'search x',
    'y',
    'z',
    'inside',
  ];
  const align: Align[] = ['right', 'left', 'left', ...Array<Align>(8).fill('right'), 'left'];
  const rows = atlas.regions.map((r) => {
    const c = cells(r, 2);
    c[4] = fixed(r.volumeMm3, 0);
    return c;
  });
  const title = `${atlas.name}: ${atlas.regions.length} regions on ${atlas.labels.dims.join('×')} (${atlas.source.labels}); centres in mm, RAS+\n`;
  return title + formatTable(headers, rows, align);
}

/** CSV with machine-friendly headers; mm to 0.001. */
export function formatAtlasCsv(atlas: Atlas): string {
  return formatCsv(
    HEADERS,
    atlas.regions.map((r) => cells(r, 3)),
  );
}

export function atlasJson(atlas: Atlas): object {
  return {
    name: atlas.name,
    source: atlas.source,
    template: atlas.template,
    grid: { dims: atlas.labels.dims, affine: atlas.labels.affine },
    notes: atlas.notes,
    regions: atlas.regions,
  };
}

export function register(program: Command, io: CliIo): void {
  program
    .command('atlas')
    .description('list the regions of a label atlas: size, centre of mass, search point')
    .argument('<atlas>', '"aal" (shipped with glas3d) or a label image (.nii/.nii.gz)')
    .option('--names <file>', 'region names: "index name" lines, or TSV/CSV with a header')
    .addOption(new Option('--csv', 'print CSV').conflicts('json'))
    .addOption(new Option('--json', 'print JSON'))
    .action(async (which: string, opts: { names?: string; csv?: boolean; json?: boolean }) => {
      const atlas = await loadAtlas(which, { names: opts.names });
      if (opts.json) {
        io.out(JSON.stringify(atlasJson(atlas), null, 2) + '\n');
        return;
      }
      for (const note of atlas.notes) io.err(`glas3d: note: ${note}\n`);
      io.out(opts.csv ? formatAtlasCsv(atlas) : formatAtlasTable(atlas));
    });
}
