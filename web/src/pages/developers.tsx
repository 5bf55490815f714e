import type { PageProps } from "../routes";
export function DevelopersPage(_: PageProps) { return <h2>Developers</h2>; }
export function DeveloperPage(_: PageProps) { return <h2>Developer</h2>; }
