/** The three views a report reads for one table: `<table>_hot`, `<table>_cold`, `<table>_all`. */
export function tierViewNames(table: string): { hot: string; cold: string; all: string } {
  return { hot: `${table}_hot`, cold: `${table}_cold`, all: `${table}_all` };
}
