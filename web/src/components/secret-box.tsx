// A secret the API shows this once (an API key, a webhook secret): the whole value,
// a copy button and the warning that it will not be shown again. It stays until the
// user dismisses it, so it cannot vanish before it was copied.
import "./secret-box.css";
import type { ComponentChildren } from "preact";
import { useRef } from "preact/hooks";
import { CopyButton } from "./copy-button";

export function SecretBox({
  label,
  value,
  onDismiss,
  children,
}: {
  /** The box's accessible name, e.g. "New API key secret". */
  label: string;
  value: string;
  onDismiss: () => void;
  /** Where the secret goes (an `X-API-Key` header, GitHub's Secret field); plain text: the
   * box holds one <code>, the secret, so tests and people find it. */
  children?: ComponentChildren;
}) {
  const code = useRef<HTMLElement>(null);
  return (
    <section class="secret-box" aria-label={label}>
      <p class="secret-box-title">Copy it now: it will not be shown again.</p>
      {children ? <p>{children}</p> : null}
      <code ref={code} class="secret-box-value">
        {value}
      </code>
      <div class="secret-box-actions">
        <CopyButton text={value} target={code} />
        <button type="button" class="ghost" onClick={onDismiss}>
          I have saved it
        </button>
      </div>
    </section>
  );
}
