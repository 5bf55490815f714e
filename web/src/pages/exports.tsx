import type { PageProps } from "../routes";
export function ExportsPage(_: PageProps) { return <h2>Exports</h2>; }
