"""The line display's words in each language it speaks (station/line_io/display_page.py): the operator at the station
reads the page in the language of its browser (a kiosk's), or the one given after # in its address (`#lang=es`),
English where it has none. `{name}` marks a value put in. Each alarm's name is said in the page's language, and the
figures of the streaks, the yield and the drift (`details_*`; English as the station writes them); an ERROR's
cause (its ErrorCode: a part's, an error streak's last) is said in that language before the station's reason,
and what decided any other part (`why_*`: below the threshold, no defect that counts, the defects that count, only
on the ROI's edge, not found, no verdict) instead of the station's reason, whose figures the page shows in its own
lines. What the station writes itself stays in English: an ERROR's reason after its cause, a NOT_FOUND streak's
last reason, the details of the alarms of its surroundings (disk, source, master parts, backups, I/O). German
lines read
i.O. / n.i.O., as its shop floors do; the verdicts the PLC and the history get do not change."""

WORDS = {
    "en": {
        "OK": "OK", "NG": "NG", "NOT_FOUND": "NOT FOUND", "NO_VERDICT": "NO VERDICT", "ERROR": "ERROR",
        "plc": "PLC {a}", "no_plc": "NO PLC CONNECTED",
        "version": "version {v}", "threshold": "threshold {v}", "uncalibrated": "NOT CALIBRATED: no verdicts",
        "shift": "shift since {t}", "part": "Part", "image": "Image", "score": "Score", "defects": "Defects",
        "inspected": "Inspected", "none": "none", "largest": "{n}, largest {a}", "score_of": "{s} (threshold {t})",
        "in_zone": "in {z}", "outside_zones": "outside the zones",
        "ago_s": "{n} s ago", "ago_min": "{n} min ago", "ago_h": "{n} h ago",
        "master": "MASTER PART: must be {v} - {r}", "passed": "passed", "failed": "FAILED",
        "waiting": "waiting for the first part", "no_image": "no image for this part",
        "last_ng": "Last NG: {p} at {t} ({ago}), score {s}",
        "trend": "the last parts' scores against the threshold (dashed)", "yield": "Yield", "parts": "Parts",
        "not_found": "Not found", "no_verdict": "No verdict", "error": "Error",
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
        # the figures of an alarm (station.line_io.alarms.Alarms.figures), as the station words them in English
        "details_ng_streak": "{n} NG in a row", "details_not_found_streak": "{n} NOT_FOUND (part not located) in a row",
        "details_error_streak": "{n} ERROR in a row", "the_last": " (the last: {r})",
        "details_yield": "yield {yield}% over the last {n} parts, below {limit}%",
        "details_drift": "score drift: the median of the last {n} scores (OK and NG) moved {share}% of the way from "
                         "the calibration's OK median to the threshold",
        # an ERROR's cause (station.ErrorCode: the PLC's ErrorCode), before the station's reason
        "cause_1": "the image cannot be read or inspected",
        "cause_2": "camera or light fault: dark, saturated or flat image", "cause_3": "no image for this part",
        "cause_4": "the same image as the part before: frozen camera",
        "cause_5": "the image belongs to another part", "cause_6": "unknown recipe",
        "cause_7": "the model cannot be loaded", "cause_9": "other cause",
        # what decided an OK or NG part (display.verdict_basis), shown instead of the station's reason on a page
        # in another language (an English page shows the station's reason, with its figures)
        "why_below": "score below the threshold",
        "why_small": "score at or above the threshold, but no defect large or long enough to count",
        "why_defects": "defects large or long enough to count: {n}",
        "why_edge": "defects only on the ROI's edge: check that the ROI lies inside the part",
        "why_not_found": "the part was not found where it is looked for (not in place, covered, or another part)",
        "why_no_verdict": "no verdict: the model has no usable calibration (calibrate it before the line runs)",
    },
    "es": {
        "OK": "OK", "NG": "NG", "NOT_FOUND": "NO ENCONTRADA", "NO_VERDICT": "SIN VEREDICTO", "ERROR": "ERROR",
        "plc": "PLC {a}", "no_plc": "NINGÚN PLC CONECTADO",
        "version": "versión {v}", "threshold": "umbral {v}", "uncalibrated": "SIN CALIBRAR: sin veredictos",
        "shift": "turno desde las {t}", "part": "Pieza", "image": "Imagen", "score": "Puntuación",
        "defects": "Defectos", "inspected": "Inspeccionada", "none": "ninguno", "largest": "{n}, el mayor {a}",
        "in_zone": "en {z}", "outside_zones": "fuera de las zonas",
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
        "details_ng_streak": "{n} NG seguidos", "details_not_found_streak": "{n} piezas no encontradas seguidas",
        "details_error_streak": "{n} ERROR seguidos", "the_last": " (la última: {r})",
        "details_yield": "rendimiento {yield} % en las últimas {n} piezas, por debajo del {limit} %",
        "details_drift": "deriva de puntuaciones: la mediana de las últimas {n} puntuaciones (OK y NG) ha recorrido "
                         "el {share} % del camino de la mediana OK de la calibración al umbral",
        "cause_1": "la imagen no se puede leer ni inspeccionar",
        "cause_2": "fallo de cámara o iluminación: imagen oscura, saturada o uniforme",
        "cause_3": "no llegó imagen de esta pieza",
        "cause_4": "la misma imagen que la pieza anterior: cámara congelada",
        "cause_5": "la imagen es de otra pieza", "cause_6": "receta desconocida",
        "cause_7": "el modelo no se puede cargar", "cause_9": "otra causa",
        "why_below": "puntuación por debajo del umbral",
        "why_small": "puntuación sobre el umbral, pero ningún defecto con el área o la longitud que cuentan",
        "why_defects": "defectos con el área o la longitud que cuentan: {n}",
        "why_edge": "defectos solo en el borde de la ROI: compruebe que la ROI queda dentro de la pieza",
        "why_not_found": "no se encontró la pieza donde se busca (fuera de sitio, tapada u otra pieza)",
        "why_no_verdict": "sin veredicto: el modelo no tiene una calibración utilizable (calibrarlo antes de "
                          "producir)",
    },
    "de": {
        "OK": "i.O.", "NG": "n.i.O.", "NOT_FOUND": "NICHT GEFUNDEN", "NO_VERDICT": "KEIN URTEIL", "ERROR": "FEHLER",
        "plc": "SPS {a}", "no_plc": "KEINE SPS VERBUNDEN",
        "version": "Version {v}", "threshold": "Schwelle {v}", "uncalibrated": "NICHT KALIBRIERT: keine Urteile",
        "shift": "Schicht seit {t}", "part": "Teil", "image": "Bild", "score": "Wert", "defects": "Defekte",
        "inspected": "Geprüft", "none": "keine", "largest": "{n}, größter {a}", "score_of": "{s} (Schwelle {t})",
        "in_zone": "in {z}", "outside_zones": "außerhalb der Zonen",
        "ago_s": "vor {n} s", "ago_min": "vor {n} min", "ago_h": "vor {n} h",
        "master": "REFERENZTEIL: muss {v} sein - {r}", "passed": "bestanden", "failed": "NICHT BESTANDEN",
        "waiting": "warte auf das erste Teil", "no_image": "kein Bild zu diesem Teil",
        "last_ng": "Letztes n.i.O.: {p} um {t} ({ago}), Wert {s}",
        "trend": "Werte der letzten Teile gegen die Schwelle (gestrichelt)", "yield": "Ausbeute", "parts": "Teile",
        "not_found": "Nicht gefunden", "no_verdict": "Kein Urteil",
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
        "details_ng_streak": "{n} n.i.O. in Folge", "details_not_found_streak": "{n} Teile nicht gefunden in Folge",
        "details_error_streak": "{n} FEHLER in Folge", "the_last": " (das letzte: {r})",
        "details_yield": "Ausbeute {yield} % über die letzten {n} Teile, unter {limit} %",
        "details_drift": "Wertedrift: der Median der letzten {n} Werte (i.O. und n.i.O.) hat {share} % des Wegs vom "
                         "i.O.-Median der Kalibrierung zur Schwelle zurückgelegt",
        "cause_1": "das Bild kann nicht gelesen oder geprüft werden",
        "cause_2": "Kamera- oder Beleuchtungsfehler: Bild dunkel, übersteuert oder ohne Inhalt",
        "cause_3": "kein Bild zu diesem Teil", "cause_4": "dasselbe Bild wie beim Teil davor: Kamera eingefroren",
        "cause_5": "das Bild gehört zu einem anderen Teil", "cause_6": "unbekanntes Rezept",
        "cause_7": "das Modell kann nicht geladen werden", "cause_9": "andere Ursache",
        "why_below": "Wert unter der Schwelle",
        "why_small": "Wert über der Schwelle, aber kein Defekt groß oder lang genug, um zu zählen",
        "why_defects": "Defekte groß oder lang genug, um zu zählen: {n}",
        "why_edge": "Defekte nur am Rand der ROI: prüfen, ob die ROI innerhalb des Teils liegt",
        "why_not_found": "das Teil wurde dort, wo es gesucht wird, nicht gefunden (nicht an seinem Platz, verdeckt "
                         "oder ein anderes Teil)",
        "why_no_verdict": "kein Urteil: das Modell hat keine nutzbare Kalibrierung (vor der Produktion kalibrieren)",
    },
}

__all__ = ["WORDS"]
