import type { PageProps } from "../routes";
export function ProjectsPage(_: PageProps) { return <h1>Projects</h1>; }
