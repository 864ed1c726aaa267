// What a server believes of the other stripes' actives, from their announcements.
import { describe, expect, it } from 'vitest';
import { ClusterDirectory } from '../src/cluster/directory.js';
import { SlotTable } from '../src/cluster/slots.js';

const layout = {
  name: 'c',
  slotTable: SlotTable.initial(2),
  stripes: [
    { name: 'alpha', servers: [{ name: 'a1', urls: ['tcp://127.0.0.1:1'], peer: 'tcp://127.0.0.1:2' }] },
    {
      name: 'bravo',
      servers: [
        { name: 'b1', urls: ['tcp://127.0.0.1:3'], peer: 'tcp://127.0.0.1:4' },
        { name: 'b2', urls: ['tcp://127.0.0.1:5'], peer: 'tcp://127.0.0.1:6' },
      ],
    },
  ],
};
const directory = (): ClusterDirectory => new ClusterDirectory('id', layout, 0, () => ({ active: 'a1', term: 1, epoch: 1, members: [] }));
const bravo = (d: ClusterDirectory) => d.topology().stripes[1]!;

describe('ClusterDirectory.learnActive', () => {
  it('ignores an older term of the same life of the log, and a server not of the stripe', () => {
    const d = directory();
    expect(d.learnActive(1, 'b1', 5, 1000)).toBe(true);
    expect(d.learnActive(1, 'b2', 4, 1000)).toBe(false);
    expect(d.learnActive(1, 'a1', 9, 1000)).toBe(false);
    expect(bravo(d)).toMatchObject({ active: 'b1', term: 5, epoch: 1000 });
  });

  it('follows a later life of the stripe whatever its term: a memory stripe that lost every server counts from term 1 again', () => {
    const d = directory();
    d.learnActive(1, 'b1', 5, 1000);
    expect(d.learnActive(1, 'b2', 1, 0)).toBe(false); // the new life has committed nothing yet: it cannot be told from an old word
    expect(d.learnActive(1, 'b2', 1, 2000)).toBe(true);
    expect(bravo(d)).toMatchObject({ active: 'b2', term: 1, epoch: 2000 });
    // A late announcement of the earlier life changes nothing.
    expect(d.learnActive(1, 'b1', 5, 1000)).toBe(false);
    expect(bravo(d)).toMatchObject({ active: 'b2', term: 1, epoch: 2000 });
  });
});
