import type { PageProps } from "../routes";
export function SessionsPage(_: PageProps) { return <h2>Sessions</h2>; }
export function SessionPage(_: PageProps) { return <h2>Session</h2>; }
