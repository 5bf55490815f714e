import type { PageProps } from "../routes";
export function UsersPage(_: PageProps) { return <h1>Users</h1>; }
export function AuditPage(_: PageProps) { return <h1>Audit log</h1>; }
export function MaintenancePage(_: PageProps) { return <h1>Maintenance</h1>; }
export function PlansPage(_: PageProps) { return <h1>Plans</h1>; }
