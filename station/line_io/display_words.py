"""The line display's words in each language it speaks (station/line_io/display_page.py): the operator at the station
reads the page in the language of its browser (a kiosk's), or the one given after # in its address (`#lang=es`),
English where it has none. `{name}` marks a value put in. What the station itself writes (a part's reason, an
alarm's details) stays in English; each alarm's name is said in the page's language before it. German lines read
i.O. / n.i.O., as its shop floors do; the verdicts the PLC and the history get do not change."""

WORDS = {
    "en": {
        "OK": "OK", "NG": "NG", "NOT_FOUND": "NOT FOUND", "NO_VERDICT": "NO VERDICT", "ERROR": "ERROR",
        "version": "version {v}", "threshold": "threshold {v}", "uncalibrated": "NOT CALIBRATED: no verdicts",
        "shift": "shift since {t}", "part": "Part", "image": "Image", "score": "Score", "defects": "Defects",
        "inspected": "Inspected", "none": "none", "largest": "{n}, largest {a}", "score_of": "{s} (threshold {t})",
        "ago_s": "{n} s ago", "ago_min": "{n} min ago", "ago_h": "{n} h ago",
        "master": "MASTER PART: must be {v} - {r}", "passed": "passed", "failed": "FAILED",
        "waiting": "waiting for the first part", "no_image": "no image for this part",
        "last_ng": "Last NG: {p} at {t} ({ago}), score {s}",
        "trend": "the last parts' scores against the threshold (dashed)", "yield": "Yield", "parts": "Parts", "not_found": "Not found", "no_verdict": "No verdict", "error": "Error",
        "counts_unknown": "counts of this shift unknown (the history cannot be read now)",
        "connecting": "Connecting to the station...",
        "no_connection": "NO CONNECTION TO THE STATION since {t}: what is shown is old.",
        "stopped": "THE STATION IS STOPPED: no parts are being inspected.",
        "not_responding": "THE STATION IS NOT RESPONDING (for {n} s): what is shown is old.",
        "refused": "THE STATION REFUSES THIS PAGE (HTTP {n}): open it with a token of the read role after # in its "
                   "address, e.g. .../display/#token=...",
        # English names each alarm as the PLC's bits, the metrics and the run's console do
        "alarm": "ALARM {name}", "ng_streak": "ng_streak", "not_found_streak": "not_found_streak",
        "error_streak": "error_streak", "yield_alarm": "yield", "drift": "drift", "disk": "disk", "source": "source",
        "master_failed": "master_failed", "master_due": "master_due", "backup_due": "backup_due", "io": "io",
    },
    "es": {
        "OK": "OK", "NG": "NG", "NOT_FOUND": "NO ENCONTRADA", "NO_VERDICT": "SIN VEREDICTO", "ERROR": "ERROR",
        "version": "versión {v}", "threshold": "umbral {v}", "uncalibrated": "SIN CALIBRAR: sin veredictos",
        "shift": "turno desde las {t}", "part": "Pieza", "image": "Imagen", "score": "Puntuación",
        "defects": "Defectos", "inspected": "Inspeccionada", "none": "ninguno", "largest": "{n}, el mayor {a}",
        "score_of": "{s} (umbral {t})", "ago_s": "hace {n} s", "ago_min": "hace {n} min", "ago_h": "hace {n} h",
        "master": "PIEZA PATRÓN: debe dar {v} - {r}", "passed": "superada", "failed": "FALLIDA",
        "waiting": "esperando la primera pieza", "no_image": "sin imagen de esta pieza",
        "last_ng": "Último NG: {p} a las {t} ({ago}), puntuación {s}",
        "trend": "puntuación de las últimas piezas frente al umbral (discontinua)", "yield": "Rendimiento",
        "parts": "Piezas", "not_found": "No encontradas", "no_verdict": "Sin veredicto",
        "error": "Error",
        "counts_unknown": "recuento del turno desconocido (el historial no se puede leer ahora)",
        "connecting": "Conectando con la estación...",
        "no_connection": "SIN CONEXIÓN CON LA ESTACIÓN desde las {t}: lo que se ve es antiguo.",
        "stopped": "LA ESTACIÓN ESTÁ PARADA: no se inspecciona ninguna pieza.",
        "not_responding": "LA ESTACIÓN NO RESPONDE (desde hace {n} s): lo que se ve es antiguo.",
        "refused": "LA ESTACIÓN RECHAZA ESTA PÁGINA (HTTP {n}): ábrala con un token del rol read tras # en su "
                   "dirección, p. ej. .../display/#token=...",
        "alarm": "ALARMA {name}", "ng_streak": "NG seguidos", "not_found_streak": "piezas no encontradas seguidas",
        "error_streak": "errores seguidos", "yield_alarm": "rendimiento bajo", "drift": "deriva de puntuaciones",
        "disk": "espacio en disco", "source": "fuente de imágenes", "master_failed": "pieza patrón fallida",
        "master_due": "pieza patrón pendiente", "backup_due": "copia de seguridad pendiente",
        "io": "salidas (E/S remota)",
    },
    "de": {
        "OK": "i.O.", "NG": "n.i.O.", "NOT_FOUND": "NICHT GEFUNDEN", "NO_VERDICT": "KEIN URTEIL", "ERROR": "FEHLER",
        "version": "Version {v}", "threshold": "Schwelle {v}", "uncalibrated": "NICHT KALIBRIERT: keine Urteile",
        "shift": "Schicht seit {t}", "part": "Teil", "image": "Bild", "score": "Wert", "defects": "Defekte",
        "inspected": "Geprüft", "none": "keine", "largest": "{n}, größter {a}", "score_of": "{s} (Schwelle {t})",
        "ago_s": "vor {n} s", "ago_min": "vor {n} min", "ago_h": "vor {n} h",
        "master": "REFERENZTEIL: muss {v} sein - {r}", "passed": "bestanden", "failed": "NICHT BESTANDEN",
        "waiting": "warte auf das erste Teil", "no_image": "kein Bild zu diesem Teil",
        "last_ng": "Letztes n.i.O.: {p} um {t} ({ago}), Wert {s}",
        "trend": "Werte der letzten Teile gegen die Schwelle (gestrichelt)", "yield": "Ausbeute", "parts": "Teile", "not_found": "Nicht gefunden", "no_verdict": "Kein Urteil",
        "error": "Fehler",
        "counts_unknown": "Zählung der Schicht unbekannt (die Historie ist gerade nicht lesbar)",
        "connecting": "Verbinde mit der Station...",
        "no_connection": "KEINE VERBINDUNG ZUR STATION seit {t}: die Anzeige ist veraltet.",
        "stopped": "DIE STATION IST GESTOPPT: es werden keine Teile geprüft.",
        "not_responding": "DIE STATION ANTWORTET NICHT (seit {n} s): die Anzeige ist veraltet.",
        "refused": "DIE STATION VERWEIGERT DIESE SEITE (HTTP {n}): mit einem Token der Rolle read nach # in der "
                   "Adresse öffnen, z. B. .../display/#token=...",
        "alarm": "ALARM {name}", "ng_streak": "n.i.O. in Folge", "not_found_streak": "Teile nicht gefunden in Folge",
        "error_streak": "Fehler in Folge", "yield_alarm": "Ausbeute zu niedrig", "drift": "Wertedrift",
        "disk": "Speicherplatz", "source": "Bildquelle", "master_failed": "Referenzteil nicht bestanden",
        "master_due": "Referenzteil fällig", "backup_due": "Sicherung fällig", "io": "Ausgänge (Remote-E/A)",
    },
}

__all__ = ["WORDS"]
