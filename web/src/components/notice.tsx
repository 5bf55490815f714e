// The outcome of a successful change ("Key ci revoked"), in a polite status region.
// The region is always rendered, empty at first: screen readers announce changes to
// a live region they already know, not one that appears with its text.
import "./notice.css";
import { useState } from "preact/hooks";

export function useNotice() {
  const [message, setMessage] = useState("");
  return { message, announce: setMessage };
}

export function Notice({ message }: { message: string }) {
  return (
    <p role="status" class={message ? "notice" : "notice notice-empty"}>
      {message}
    </p>
  );
}
